//! The fault-injection language: one line per command, shared by the control port, the
//! scenario file and the command-line flags, so every fault is reachable the same three ways.
//!
//! The language is listed in [`HELP`], which `gatewatch-sim --help` prints too.

use std::fmt;
use std::time::Duration;

/// The fault language, one line per command, as `--help` and the docs show it.
pub const HELP: &str = "\
refuse off|closed|reset     closed: nothing listens; reset: accept, then RST\n\
zombie on|off               accept TCP, never answer the version exchange\n\
stall-start on|off          answer the version exchange, never send nextValidId\n\
mute on|off                 keep sockets open, answer nothing (half-open gateway)\n\
latency MS [JITTER_MS]      add MS (+- JITTER_MS) to every reply\n\
close-wait on|off           never close the server side of sockets clients closed\n\
drop                        close every client connection now\n\
notice CODE [FARM|TEXT]     send an IB notice (1100, 1101, 1102, 2103-2108, 2110, 2157, 2158)\n\
port-reset                  send 1300 to every client, then close it\n\
restart SECS                daily restart: drop everyone, refuse for SECS, accept again\n\
after SECS COMMAND          run COMMAND once, SECS from now\n\
every SECS COMMAND          run COMMAND every SECS\n\
cancel                      forget every pending after/every\n\
clear                       every fault off, timers cancelled, parked sockets closed\n\
status                      one line describing the faults in force\n\
";

/// How new connections are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefuseMode {
    /// Connections are accepted.
    #[default]
    Off,
    /// Nothing listens on the port: clients get ECONNREFUSED.
    Closed,
    /// Each connection is accepted and reset at once.
    Reset,
}

/// Added reply latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// Fixed delay per reply, in milliseconds.
    pub fixed_ms: u64,
    /// Uniform jitter of up to ± this many milliseconds.
    pub jitter_ms: u64,
}

/// One fault-injection command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `refuse off|closed|reset`.
    Refuse(RefuseMode),
    /// `zombie on|off`.
    Zombie(bool),
    /// `stall-start on|off`.
    StallStart(bool),
    /// `mute on|off`.
    Mute(bool),
    /// `latency MS [JITTER_MS]`.
    Latency(Latency),
    /// `close-wait on|off`.
    CloseWait(bool),
    /// `drop`.
    Drop,
    /// `notice CODE [ARG]`.
    Notice {
        /// IB's message code.
        code: i32,
        /// Farm name for farm codes, text for others; `None` for the default.
        arg: Option<String>,
    },
    /// `port-reset`.
    PortReset,
    /// `restart SECS`.
    Restart {
        /// How long the port stays closed.
        down: Duration,
    },
    /// `after SECS COMMAND`.
    After {
        /// Delay before running it.
        delay: Duration,
        /// The command to run.
        command: Box<Command>,
    },
    /// `every SECS COMMAND`.
    Every {
        /// Period.
        interval: Duration,
        /// The command to run.
        command: Box<Command>,
    },
    /// `cancel`.
    Cancel,
    /// `clear`.
    Clear,
    /// `status`.
    Status,
}

/// A command line that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CommandError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, CommandError> {
    Err(CommandError(message.into()))
}

fn on_off(word: Option<&str>, command: &str) -> Result<bool, CommandError> {
    match word {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        _ => err(format!("`{command}` takes on or off")),
    }
}

fn seconds(word: Option<&str>, command: &str) -> Result<Duration, CommandError> {
    let text =
        word.ok_or_else(|| CommandError(format!("`{command}` needs a number of seconds")))?;
    match text.parse::<f64>() {
        Ok(secs) if (0.0..1e9).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => err(format!("`{command}`: `{text}` is not a number of seconds")),
    }
}

fn millis(word: Option<&str>, what: &str) -> Result<u64, CommandError> {
    let text = word.ok_or_else(|| CommandError(format!("`latency` needs {what}")))?;
    text.parse().or_else(|_| {
        err(format!(
            "`latency`: {what} `{text}` is not a whole number of milliseconds"
        ))
    })
}

impl std::str::FromStr for Command {
    type Err = CommandError;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let line = line.trim();
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else {
            return err("empty command");
        };
        let command = match name {
            "refuse" => Command::Refuse(match words.next() {
                Some("off") => RefuseMode::Off,
                Some("closed") => RefuseMode::Closed,
                Some("reset") => RefuseMode::Reset,
                _ => return err("`refuse` takes off, closed or reset"),
            }),
            "zombie" => Command::Zombie(on_off(words.next(), name)?),
            "stall-start" => Command::StallStart(on_off(words.next(), name)?),
            "mute" => Command::Mute(on_off(words.next(), name)?),
            "close-wait" => Command::CloseWait(on_off(words.next(), name)?),
            "latency" => {
                let fixed_ms = millis(words.next(), "a delay")?;
                let jitter_ms = match words.next() {
                    Some(word) => millis(Some(word), "a jitter")?,
                    None => 0,
                };
                Command::Latency(Latency {
                    fixed_ms,
                    jitter_ms,
                })
            }
            "drop" => Command::Drop,
            "notice" => {
                let code_text = words
                    .next()
                    .ok_or_else(|| CommandError("`notice` needs a code".into()))?;
                let code = code_text
                    .parse()
                    .or_else(|_| err(format!("`notice`: `{code_text}` is not a code")))?;
                let rest: Vec<&str> = words.by_ref().collect();
                let arg = (!rest.is_empty()).then(|| rest.join(" "));
                if crate::notice::text(code, arg.as_deref(), 0).is_none() {
                    return err(format!(
                        "`notice {code}` needs its text: no default text is known for that code"
                    ));
                }
                Command::Notice { code, arg }
            }
            "port-reset" => Command::PortReset,
            "restart" => Command::Restart {
                down: seconds(words.next(), name)?,
            },
            "after" | "every" => {
                let delay = seconds(words.next(), name)?;
                let rest: Vec<&str> = words.by_ref().collect();
                if rest.is_empty() {
                    return err(format!("`{name}` needs a command to run"));
                }
                let command = Box::new(rest.join(" ").parse()?);
                if name == "after" {
                    Command::After { delay, command }
                } else {
                    if delay.is_zero() {
                        return err("`every` needs a period above zero");
                    }
                    Command::Every {
                        interval: delay,
                        command,
                    }
                }
            }
            "cancel" => Command::Cancel,
            "clear" => Command::Clear,
            "status" => Command::Status,
            other => return err(format!("unknown command `{other}`")),
        };
        if let Some(extra) = words.next() {
            return err(format!("`{name}`: unexpected `{extra}`"));
        }
        Ok(command)
    }
}

impl fmt::Display for RefuseMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefuseMode::Off => "off",
            RefuseMode::Closed => "closed",
            RefuseMode::Reset => "reset",
        })
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on_off = |on: bool| if on { "on" } else { "off" };
        match self {
            Command::Refuse(mode) => write!(f, "refuse {mode}"),
            Command::Zombie(on) => write!(f, "zombie {}", on_off(*on)),
            Command::StallStart(on) => write!(f, "stall-start {}", on_off(*on)),
            Command::Mute(on) => write!(f, "mute {}", on_off(*on)),
            Command::CloseWait(on) => write!(f, "close-wait {}", on_off(*on)),
            Command::Latency(l) => write!(f, "latency {} {}", l.fixed_ms, l.jitter_ms),
            Command::Drop => write!(f, "drop"),
            Command::Notice { code, arg: None } => write!(f, "notice {code}"),
            Command::Notice {
                code,
                arg: Some(arg),
            } => write!(f, "notice {code} {arg}"),
            Command::PortReset => write!(f, "port-reset"),
            Command::Restart { down } => write!(f, "restart {}", down.as_secs_f64()),
            Command::After { delay, command } => {
                write!(f, "after {} {command}", delay.as_secs_f64())
            }
            Command::Every { interval, command } => {
                write!(f, "every {} {command}", interval.as_secs_f64())
            }
            Command::Cancel => write!(f, "cancel"),
            Command::Clear => write!(f, "clear"),
            Command::Status => write!(f, "status"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_command_parses_and_prints_back() {
        for line in [
            "refuse closed",
            "refuse reset",
            "refuse off",
            "zombie on",
            "stall-start off",
            "mute on",
            "latency 50 10",
            "close-wait on",
            "drop",
            "notice 1100",
            "notice 2103 eufarm",
            "notice 1300",
            "port-reset",
            "restart 2.5",
            "after 5 notice 1102",
            "every 30 drop",
            "every 20 after 5 notice 2104",
            "cancel",
            "clear",
            "status",
        ] {
            let command: Command = line.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
            let printed = command.to_string();
            assert_eq!(
                printed.parse::<Command>().unwrap(),
                command,
                "{line} → {printed}"
            );
        }
    }

    #[test]
    fn latency_jitter_defaults_to_zero() {
        assert_eq!(
            "latency 25".parse::<Command>().unwrap(),
            Command::Latency(Latency {
                fixed_ms: 25,
                jitter_ms: 0
            })
        );
    }

    #[test]
    fn mistakes_are_named() {
        let message = |line: &str| line.parse::<Command>().unwrap_err().0;
        assert_eq!(message("mute maybe"), "`mute` takes on or off");
        assert_eq!(message("frobnicate"), "unknown command `frobnicate`");
        assert_eq!(
            message("after x drop"),
            "`after`: `x` is not a number of seconds"
        );
        assert_eq!(message("after 3"), "`after` needs a command to run");
        assert_eq!(message("every 0 drop"), "`every` needs a period above zero");
        assert_eq!(message("drop now please"), "`drop`: unexpected `now`");
        assert!(message("notice 9999").contains("needs its text"));
        assert_eq!(
            message("latency -1"),
            "`latency`: a delay `-1` is not a whole number of milliseconds"
        );
        assert_eq!(message(""), "empty command");
        "notice 9999 Something odd happened"
            .parse::<Command>()
            .expect("custom text is accepted");
    }
}
