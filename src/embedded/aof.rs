//! A look at the embedded Redis's append-only file before Redis loads it: is its tail a command
//! cut short (a power failure or a full disk while Redis wrote), or is it damaged further in?
//!
//! Redis 7 keeps the file as parts listed in `appendonlydir/appendonly.aof.manifest`; only the
//! last incremental part is being appended to, so only its tail can be cut short. Redis loads a
//! cut-short tail by dropping the partial command (`aof-load-truncated yes`, which Luotsi sets)
//! and refuses a file damaged anywhere else. This check only reads: it says which case it is, so
//! that the log names the file and the bytes before Redis acts.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Where Redis keeps the parts (its `appenddirname`) and the name of their list.
const DIR: &str = "appendonlydir";
const MANIFEST: &str = "appendonly.aof.manifest";

/// What the last part of the append-only file holds.
#[derive(Debug, PartialEq, Eq)]
pub enum AofState {
    /// No append-only file yet (a first start).
    Missing,
    /// Whole commands to the last byte.
    Whole { file: PathBuf },
    /// Whole commands up to `whole_bytes`, then the start of one that was never completely
    /// written: Redis drops the `len - whole_bytes` bytes after it when it loads the file.
    CutShort {
        file: PathBuf,
        whole_bytes: u64,
        len: u64,
    },
    /// Not a command at byte `at`: Redis refuses to load the file.
    Damaged { file: PathBuf, at: u64 },
}

/// Reads the manifest in the data directory `dir` and checks the last incremental part.
pub fn check(dir: &Path) -> std::io::Result<AofState> {
    let manifest = dir.join(DIR).join(MANIFEST);
    let text = match std::fs::read_to_string(&manifest) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AofState::Missing),
        Err(e) => return Err(e),
    };
    let Some(name) = last_incremental(&text) else {
        return Ok(AofState::Missing);
    };
    let file = dir.join(DIR).join(name);
    let len = std::fs::metadata(&file)?.len();
    let reader = BufReader::new(std::fs::File::open(&file)?);
    Ok(match scan(reader)? {
        Scan::Whole => AofState::Whole { file },
        Scan::CutShort { whole_bytes } => AofState::CutShort {
            file,
            whole_bytes,
            len,
        },
        Scan::Damaged { at } => AofState::Damaged { file, at },
    })
}

/// The file name of the manifest's last `type i` line (`file <name> seq <n> type i`).
fn last_incremental(manifest: &str) -> Option<&str> {
    manifest
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let value = |key: &str| {
                words
                    .chunks(2)
                    .find(|pair| pair.first() == Some(&key))
                    .and_then(|pair| pair.get(1).copied())
            };
            (value("type") == Some("i"))
                .then(|| value("file"))
                .flatten()
        })
        .next_back()
}

#[derive(Debug, PartialEq, Eq)]
enum Scan {
    Whole,
    CutShort { whole_bytes: u64 },
    Damaged { at: u64 },
}

/// Walks the commands (`*<n>\r\n` then n times `$<len>\r\n<bytes>\r\n`; Redis's `#…\r\n`
/// annotations between them) without keeping them: the file holds citizens' words.
fn scan(mut r: impl BufRead) -> std::io::Result<Scan> {
    let mut at = 0u64;
    let mut line = Vec::new();
    loop {
        let command_start = at;
        // The command's header, or an annotation.
        let header = match read_line(&mut r, &mut line, &mut at)? {
            Line::End if line.is_empty() => return Ok(Scan::Whole),
            Line::End => {
                return Ok(Scan::CutShort {
                    whole_bytes: command_start,
                });
            }
            Line::Whole => &line[..],
        };
        if header.first() == Some(&b'#') {
            continue;
        }
        let Some(args) = number_after(b'*', header) else {
            return Ok(Scan::Damaged { at: command_start });
        };
        for _ in 0..args {
            let arg_start = at;
            match read_line(&mut r, &mut line, &mut at)? {
                Line::End => {
                    return Ok(Scan::CutShort {
                        whole_bytes: command_start,
                    });
                }
                Line::Whole => {}
            }
            let Some(len) = number_after(b'$', &line) else {
                return Ok(Scan::Damaged { at: arg_start });
            };
            // The argument, skipped unread, then its `\r\n`.
            let got = std::io::copy(&mut (&mut r).take(len), &mut std::io::sink())?;
            let mut end = [0u8; 2];
            let mut ended = got < len;
            if !ended {
                match r.read_exact(&mut end) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => ended = true,
                    Err(e) => return Err(e),
                }
            }
            if ended {
                return Ok(Scan::CutShort {
                    whole_bytes: command_start,
                });
            }
            if &end != b"\r\n" {
                return Ok(Scan::Damaged { at: at + len });
            }
            at += len + 2;
        }
    }
}

enum Line {
    /// A line ending in `\r\n` (without it in the buffer).
    Whole,
    /// The file ended first; the buffer holds what there was.
    End,
}

fn read_line(r: &mut impl BufRead, line: &mut Vec<u8>, at: &mut u64) -> std::io::Result<Line> {
    line.clear();
    let n = r.read_until(b'\n', line)?;
    *at += n as u64;
    if line.ends_with(b"\r\n") {
        line.truncate(line.len() - 2);
        Ok(Line::Whole)
    } else {
        Ok(Line::End)
    }
}

/// `<prefix><decimal>`, a sane count or length.
fn number_after(prefix: u8, line: &[u8]) -> Option<u64> {
    let digits = line.strip_prefix(&[prefix])?;
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    // Redis's own limit on a bulk string is 512 MiB; a command of more arguments than that
    // is no command.
    (n <= 512 * 1024 * 1024).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
    const SELECT: &[u8] = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n";

    fn scanned(bytes: &[u8]) -> Scan {
        scan(bytes).unwrap()
    }

    #[test]
    fn whole_commands_and_annotations_are_whole() {
        assert_eq!(scanned(b""), Scan::Whole);
        let file = [SELECT, b"#TS:1700000000\r\n", SET, SET].concat();
        assert_eq!(scanned(&file), Scan::Whole);
    }

    #[test]
    fn a_command_cut_anywhere_is_cut_short_after_the_last_whole_one() {
        let whole = [SELECT, SET].concat();
        for cut in 1..SET.len() {
            let file = [&whole[..], &SET[..cut]].concat();
            assert_eq!(
                scanned(&file),
                Scan::CutShort {
                    whole_bytes: whole.len() as u64
                },
                "cut after {cut} bytes of the last command"
            );
        }
    }

    #[test]
    fn a_wrong_byte_inside_is_damage_where_it_is() {
        let file = [SELECT, b"?garbage\r\n", SET].concat();
        assert_eq!(
            scanned(&file),
            Scan::Damaged {
                at: SELECT.len() as u64
            }
        );
        let mut bad_end = [SELECT, SET].concat();
        let last = bad_end.len() - 2;
        bad_end[last] = b'x';
        assert_eq!(scanned(&bad_end), Scan::Damaged { at: last as u64 });
    }

    #[test]
    fn the_last_incremental_part_is_the_one_checked() {
        let manifest = "file appendonly.aof.1.base.rdb seq 1 type b\n\
                        file appendonly.aof.1.incr.aof seq 1 type h\n\
                        file appendonly.aof.2.incr.aof seq 2 type i\n\
                        file appendonly.aof.3.incr.aof seq 3 type i\n";
        assert_eq!(
            last_incremental(manifest),
            Some("appendonly.aof.3.incr.aof")
        );
        assert_eq!(
            last_incremental("file appendonly.aof.1.base.rdb seq 1 type b\n"),
            None
        );
    }
}
