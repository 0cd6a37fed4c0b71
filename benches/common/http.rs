//! The in-process HTTP service the HTTP benchmarks put middleware in front of: it
//! answers `200 ok` at once; every request carries a `traceparent`, a `user-agent` and
//! a `host` header.

use std::convert::Infallible;
use std::future::{Future as _, Ready, ready};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use http_body_util::Full;
use tower::Service;

pub(crate) type Body = Full<bytes::Bytes>;

#[derive(Clone, Copy)]
pub(crate) struct Ok200;

impl Service<Request<Body>> for Ok200 {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Body>) -> Self::Future {
        ready(Ok(Response::new(Full::new(bytes::Bytes::from_static(
            b"ok",
        )))))
    }
}

pub(crate) fn request() -> Request<Body> {
    Request::get("/posts/42")
        .header("host", "blog.example.com")
        .header("user-agent", "curl/8.5.0")
        .header(
            "traceparent",
            "00-6b04d2e800000000e6a5cefc6c3cef4e-92de221fbdd042ee-01",
        )
        .body(Body::default())
        .unwrap()
}

/// One request through `service`, its body drained; everything is ready at once.
pub(crate) fn serve<S, B>(service: &mut S)
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    let Poll::Ready(response) = pin!(service.call(request())).poll(&mut cx) else {
        unreachable!("the service is ready at once")
    };
    let mut body = pin!(response.unwrap().into_body());
    while let Poll::Ready(Some(frame)) = http_body::Body::poll_frame(body.as_mut(), &mut cx) {
        black_box(frame.unwrap());
    }
}
