//! `fs-probe`: what the container tests (`tests/container.rs`) run inside the app
//! container, which has no shell and no coreutils to do it with. Bind-mounted read-only
//! into the container; linked like the app (glibc and libgcc_s only), so the image's
//! runtime runs it too.
//!
//!   fs-probe uid PID    prints the real UID of process PID (from /proc/PID/status)
//!   fs-probe write PATH creates PATH: exit 0 if it could, 1 (with the error) if not

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["uid", pid] => match std::fs::read_to_string(format!("/proc/{pid}/status")) {
            Ok(status) => {
                // "Uid:\treal\teffective\tsaved\tfilesystem"
                let uid = status
                    .lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|ids| ids.split_whitespace().next());
                match uid {
                    Some(uid) => {
                        println!("{uid}");
                        ExitCode::SUCCESS
                    }
                    None => {
                        eprintln!("no Uid line in /proc/{pid}/status");
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
            eprintln!("usage: fs-probe uid PID | fs-probe write PATH");
            ExitCode::from(2)
        }
    }
}
