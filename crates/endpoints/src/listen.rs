//! Where the endpoints listen and who may read them. Loopback needs nothing; any other
//! address needs a bearer token (read from a file, so it is not in the process list or the
//! shell history) or an explicit `--insecure-no-auth`: gateway names, accounts and positions
//! are not for the whole network.

use std::net::SocketAddr;
use std::path::Path;

pub use gatewatch_settings::DEFAULT_LISTEN;

/// The address and its protection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The bearer token every request but `/healthz` must carry, if any.
    pub token: Option<String>,
    /// The user said no token is needed on a non-loopback address.
    pub insecure_no_auth: bool,
}

impl Listen {
    /// Loopback on the default port, without a token.
    pub fn loopback() -> Self {
        Self {
            addr: DEFAULT_LISTEN.parse().expect("a valid address"),
            token: None,
            insecure_no_auth: false,
        }
    }

    /// Refuses a non-loopback address without a token or the explicit opt-out, saying why.
    pub fn check(&self) -> Result<(), String> {
        if !gatewatch_settings::needs_token(&self.addr)
            || self.token.is_some()
            || self.insecure_no_auth
        {
            return Ok(());
        }
        Err(format!(
            "refusing to listen on {} without a token: anyone who can reach it would read your gateways, \
             accounts and positions. Give --token FILE (a bearer token Prometheus sends), listen on \
             127.0.0.1, or say --insecure-no-auth if a firewall already keeps others out",
            self.addr
        ))
    }
}

/// The token in `path`: its first line, trimmed; refused when empty or short.
pub fn read_token(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.len() < 16 {
        return Err(format!(
            "the token in {} is {} characters long: use at least 16 (e.g. `openssl rand -hex 32`)",
            path.display(),
            token.len()
        ));
    }
    Ok(token)
}

/// Binds `listen`'s address, saying clearly when the port is taken or not allowed.
pub async fn bind(listen: &Listen) -> Result<tokio::net::TcpListener, String> {
    listen.check()?;
    tokio::net::TcpListener::bind(listen.addr)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "{} is already in use (another Gatewatch, or another exporter?): choose another address with --listen",
                listen.addr
            ),
            std::io::ErrorKind::PermissionDenied => format!(
                "not allowed to listen on {}: ports below 1024 need privileges; choose another with --listen",
                listen.addr
            ),
            _ => format!("cannot listen on {}: {e}", listen.addr),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen(addr: &str, token: Option<&str>, insecure: bool) -> Listen {
        Listen {
            addr: addr.parse().unwrap(),
            token: token.map(str::to_owned),
            insecure_no_auth: insecure,
        }
    }

    #[test]
    fn only_loopback_goes_without_a_token_unless_the_user_says_so() {
        assert!(listen("127.0.0.1:7489", None, false).check().is_ok());
        assert!(listen("[::1]:7489", None, false).check().is_ok());
        assert!(
            listen("[::ffff:127.0.0.1]:7489", None, false)
                .check()
                .is_ok()
        );
        let refused = listen("0.0.0.0:7489", None, false).check().unwrap_err();
        assert!(
            refused.contains("--token FILE") && refused.contains("0.0.0.0:7489"),
            "{refused}"
        );
        assert!(listen("0.0.0.0:7489", Some("x"), false).check().is_ok());
        assert!(listen("192.168.1.5:7489", None, true).check().is_ok());
    }

    #[test]
    fn a_short_or_missing_token_file_is_refused_naming_it() {
        let dir = std::env::temp_dir().join(format!("gw-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let short = dir.join("short");
        std::fs::write(&short, "abc\n").unwrap();
        assert!(read_token(&short).unwrap_err().contains("3 characters"));
        let good = dir.join("good");
        std::fs::write(&good, "0123456789abcdef0123\nignored\n").unwrap();
        assert_eq!(read_token(&good).unwrap(), "0123456789abcdef0123");
        assert!(
            read_token(&dir.join("missing"))
                .unwrap_err()
                .contains("cannot read")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_port_in_use_is_said_plainly() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let error = bind(&listen(&addr, None, false)).await.unwrap_err();
        assert!(
            error.contains("already in use") && error.contains(&addr),
            "{error}"
        );
    }
}
