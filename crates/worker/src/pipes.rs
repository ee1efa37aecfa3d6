//! The worker's stdin and stdout as reactor-driven pipes.
//!
//! `tokio::io::stdin()`/`stdout()` hand every read and write to a blocking thread, which adds
//! a thread hop to each request and reply on the ping path. The supervisor always gives the
//! worker pipes, and a pipe can be registered with the reactor like a socket. When stdin or
//! stdout is something else (a terminal, a file, run by hand), the blocking-thread versions
//! are used instead, as they are on every platform but Unix.

use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

/// The worker's input.
pub type Input = Pin<Box<dyn AsyncRead + Send>>;
/// The worker's output.
pub type Output = Pin<Box<dyn AsyncWrite + Send>>;

/// Stdin and stdout on blocking threads (not Unix: no pipe can join the reactor here).
#[cfg(not(unix))]
pub fn stdio() -> (Input, Output) {
    (Box::pin(tokio::io::stdin()), Box::pin(tokio::io::stdout()))
}

/// Stdin and stdout, reactor-driven where they are pipes. Must run inside a tokio runtime.
#[cfg(unix)]
pub fn stdio() -> (Input, Output) {
    use std::os::fd::AsFd;
    let input: Input = match std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(tokio::net::unix::pipe::Receiver::from_owned_fd)
    {
        Ok(pipe) => Box::pin(pipe),
        Err(error) => {
            tracing::debug!(%error, "stdin is not a pipe: reading it on a blocking thread");
            Box::pin(tokio::io::stdin())
        }
    };
    let output: Output = match std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .and_then(tokio::net::unix::pipe::Sender::from_owned_fd)
    {
        Ok(pipe) => Box::pin(pipe),
        Err(error) => {
            tracing::debug!(%error, "stdout is not a pipe: writing it on a blocking thread");
            Box::pin(tokio::io::stdout())
        }
    };
    (input, output)
}
