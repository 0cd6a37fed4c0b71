//! Holds spanlog's axum example and its tests against a real server, which need axum,
//! tokio and hyper: kept out of spanlog's own build. Nothing to use here.
