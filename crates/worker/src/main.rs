//! `gatewatch-worker`: JSON requests on stdin, JSON replies and events on stdout, JSON logs
//! on stderr (filtered by `GATEWATCH_LOG`). Exits when stdin closes or on `shutdown`.

fn main() {
    std::process::exit(start());
}

fn start() -> i32 {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GATEWATCH_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(error) = die_with_parent() {
        tracing::error!(%error, "cannot ask for a parent-death signal");
        return gatewatch_protocol::exit_code::STARTUP_FAILED;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the runtime");
            return gatewatch_protocol::exit_code::STARTUP_FAILED;
        }
    };
    runtime.block_on(async {
        let (input, output) = gatewatch_worker::pipes::stdio();
        gatewatch_worker::run(input, output).await
    })
}

/// On Linux, asks the kernel to kill the worker when the process that spawned it dies, so a
/// worker never outlives a crashed app.
#[cfg(target_os = "linux")]
fn die_with_parent() -> nix::Result<()> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
    // The parent may have died before the call: then we were reparented already.
    if nix::unistd::getppid().as_raw() == 1 {
        std::process::exit(gatewatch_protocol::exit_code::OK);
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent() -> Result<(), std::convert::Infallible> {
    Ok(())
}
