//! A process that made ids, then forks: parent and child draw different ids from then on,
//! so two processes never share a trace. Its own binary: it forks.

#[cfg(unix)]
fn main() {
    use std::time::Duration;

    // Seed this thread's id stream before the fork.
    let warm = spanlog::start_span("warm").start();
    assert!(!warm.span_id().is_zero());

    let draw = || -> Vec<u64> {
        let mut ids = Vec::new();
        for _ in 0..4 {
            let span = spanlog::start_span("after fork").root().start();
            ids.push(span.span_id().to_u64());
            ids.push(span.trace_id().low());
        }
        ids
    };
    let path = std::env::temp_dir().join(format!("spanlog-fork-{}", std::process::id()));
    // SAFETY: the child only draws ids, writes a file and exits without unwinding.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ids = draw();
        let text: Vec<String> = ids.iter().map(u64::to_string).collect();
        let ok = std::fs::write(&path, text.join(" ")).is_ok();
        // SAFETY: ends the child at once, as a forked child of a threaded process should.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let parent = draw();
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: {status}"
    );
    let child: Vec<u64> = std::fs::read_to_string(&path)
        .expect("the child's ids")
        .split(' ')
        .map(|id| id.parse().unwrap())
        .collect();
    let _ = std::fs::remove_file(&path);
    assert_eq!(child.len(), parent.len());
    for id in &child {
        assert!(
            !parent.contains(id),
            "the child drew {id}, as the parent did: {parent:?} {child:?}"
        );
    }
    // And the parent's stream goes on undisturbed.
    std::thread::sleep(Duration::from_millis(1));
    assert!(!draw().iter().any(|id| parent.contains(id)));
    println!("1 passed, 0 failed");
}

#[cfg(not(unix))]
fn main() {
    println!("0 passed, 0 failed, 1 skipped: fork is unix only");
}
