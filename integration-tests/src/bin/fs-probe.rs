//! `fs-probe`: what the container tests (`tests/container.rs`) run inside the app
//! container, which has no shell and no coreutils to do it with. Bind-mounted read-only
//! into the container; linked like the app (glibc and libgcc_s only), so the image's
//! runtime runs it too.
//!
//!   fs-probe status PID FIELD  prints the first value of FIELD in /proc/PID/status
//!                              (`Uid`: the real UID; `VmRSS`, `VmHWM`: kB)
//!   fs-probe write PATH        creates PATH: exit 0 if it could, 1 (with the error) if not

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["status", pid, field] => match std::fs::read_to_string(format!("/proc/{pid}/status")) {
            Ok(status) => {
                // "Uid:\treal\teffective\tsaved\tfilesystem", "VmRSS:\t  22516 kB"
                let value = status
                    .lines()
                    .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                    .and_then(|values| values.split_whitespace().next());
                match value {
                    Some(value) => {
                        println!("{value}");
                        ExitCode::SUCCESS
                    }
                    None => {
                        eprintln!("no {field} line in /proc/{pid}/status");
                        ExitCode::from(2)
                    }
                }
            }
            Err(e) => {
                eprintln!("/proc/{pid}/status: {e}");
                ExitCode::from(2)
            }
        },
        ["write", path] => match std::fs::write(path, b"probe") {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{path}: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: fs-probe status PID FIELD | fs-probe write PATH");
            ExitCode::from(2)
        }
    }
}
