//! `spanlog::try_init` installs env_logger with its filter as the max level, and a
//! second call fails cleanly. Its own binary: it installs the global logger. It runs
//! itself again with `RUST_LOG=debug` to check that the variable is honoured.

fn main() {
    if let Some(expected) = std::env::args().nth(1) {
        spanlog::try_init().expect("install");
        assert_eq!(log::max_level().to_string(), expected);
        return;
    }
    let child = |rust_log: Option<&str>, expected: &str| {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command.arg(expected);
        match rust_log {
            Some(value) => command.env("RUST_LOG", value),
            None => command.env_remove("RUST_LOG"),
        };
        let status = command.status().unwrap();
        assert!(
            status.success(),
            "RUST_LOG={rust_log:?} should give max level {expected}"
        );
    };
    child(None, "INFO");
    child(Some(""), "INFO");
    child(Some("debug"), "DEBUG");
    child(Some("warn,my_crate=trace"), "TRACE");

    spanlog::try_init().expect("first install succeeds");
    let level = log::max_level();

    let again = spanlog::try_init();
    assert!(again.is_err(), "a second install fails");
    assert_eq!(log::max_level(), level, "and leaves the level alone");

    std::panic::set_hook(Box::new(|_| {}));
    let twice = std::panic::catch_unwind(spanlog::init);
    let _ = std::panic::take_hook();
    assert!(twice.is_err(), "init panics when a logger is installed");

    let wrapped = spanlog::LoggerBuilder::new()
        .wrap(env_logger::Builder::new().build())
        .max_level(log::LevelFilter::Trace)
        .try_init();
    assert!(wrapped.is_err());
    assert_eq!(log::max_level(), level);
    println!("1 passed, 0 failed");
}
