//! Portico's block in the text of a hosts file: finding it, reading the names in it, and
//! rewriting or removing it while every byte outside it stays as it was (line endings, a
//! missing final newline, comments, blank lines). Pure text in, text out; no I/O.

use std::collections::BTreeSet;

use super::{BEGIN, END, Error};

/// A line of the text: where it starts, where its content ends, and where its terminator
/// (`\n` or `\r\n`, none for a last line without one) ends.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    /// End of the content, `\r` of a CRLF excluded.
    content_end: usize,
    /// End including the terminator; equal to the text's length for a last line without one.
    end: usize,
}

impl Line {
    fn has_terminator(&self, text: &str) -> bool {
        text[..self.end].ends_with('\n')
    }
}

fn lines(text: &str) -> impl Iterator<Item = Line> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= text.len() {
            return None;
        }
        let start = at;
        let (content_end, end) = match text[start..].find('\n') {
            Some(i) => {
                let nl = start + i;
                let content_end = if nl > start && text.as_bytes()[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                (content_end, nl + 1)
            }
            None => (text.len(), text.len()),
        };
        at = end;
        Some(Line {
            start,
            content_end,
            end,
        })
    })
}

/// A marker line matches when it equals the marker once trailing blanks are ignored (an
/// editor may have added some).
fn is_marker(content: &str, marker: &str) -> bool {
    content.trim_end() == marker
}

/// One block: its BEGIN line and its END line.
#[derive(Debug, Clone, Copy)]
struct Block {
    begin: Line,
    end: Line,
}

/// Every complete block, in order; an error for a BEGIN without END, an END without BEGIN,
/// or a BEGIN inside a block (the text cannot be edited safely then).
fn blocks(text: &str) -> Result<Vec<Block>, Error> {
    let mut found = Vec::new();
    let mut open: Option<(Line, usize)> = None;
    for (number, line) in lines(text).enumerate() {
        let content = &text[line.start..line.content_end];
        if is_marker(content, BEGIN) {
            if let Some((_, at)) = open {
                return Err(Error::Malformed {
                    path: std::path::PathBuf::new(),
                    line: number + 1,
                    reason: format!(
                        "a second BEGIN line before the END of the block opened on line {}",
                        at + 1
                    ),
                });
            }
            open = Some((line, number));
        } else if is_marker(content, END) {
            match open.take() {
                Some((begin, _)) => found.push(Block { begin, end: line }),
                None => {
                    return Err(Error::Malformed {
                        path: std::path::PathBuf::new(),
                        line: number + 1,
                        reason: "an END line without a BEGIN line before it".into(),
                    });
                }
            }
        }
    }
    if let Some((_, at)) = open {
        return Err(Error::Malformed {
            path: std::path::PathBuf::new(),
            line: at + 1,
            reason: "a BEGIN line without an END line after it".into(),
        });
    }
    Ok(found)
}

/// One name a hosts-file line maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    /// Whether the line is inside Portico's block.
    pub in_block: bool,
    /// The address it maps the name to.
    pub address: std::net::IpAddr,
    /// The name, lowercased, without a trailing dot.
    pub name: String,
}

/// Every name the text maps, in file order. Tolerant: an unterminated block counts up to the
/// end of the text, and lines that are not `ADDRESS NAME…` are skipped (`portico doctor`
/// reads hand-edited files with it too).
pub fn entries(text: &str) -> Vec<Entry> {
    let mut found = Vec::new();
    let mut inside = false;
    for (i, line) in lines(text).enumerate() {
        let content = &text[line.start..line.content_end];
        if is_marker(content, BEGIN) {
            inside = true;
        } else if is_marker(content, END) {
            inside = false;
        } else {
            found.extend(entry_names(content).map(|(address, name)| Entry {
                line: i + 1,
                in_block: inside,
                address,
                name,
            }));
        }
    }
    found
}

/// The names Portico's block maps, sorted and without repeats; empty when there is no block.
pub fn managed_names(text: &str) -> Vec<String> {
    let names: BTreeSet<String> = entries(text)
        .into_iter()
        .filter(|e| e.in_block)
        .map(|e| e.name)
        .collect();
    names.into_iter().collect()
}

/// `(address, name)` for each name of a hosts line (comments and malformed lines give none).
fn entry_names(content: &str) -> impl Iterator<Item = (std::net::IpAddr, String)> + '_ {
    let content = content.split('#').next().unwrap_or_default();
    let mut words = content.split_whitespace();
    let address = words
        .next()
        .and_then(|w| w.parse::<std::net::IpAddr>().ok());
    words.filter_map(move |name| Some((address?, name.trim_end_matches('.').to_ascii_lowercase())))
}

/// Names that lines outside Portico's block already map to a loopback address: those resolve
/// without the block, so it leaves them out.
pub(super) fn foreign_loopback_names(text: &str) -> BTreeSet<String> {
    entries(text)
        .into_iter()
        .filter(|e| !e.in_block && e.address.is_loopback())
        .map(|e| e.name)
        .collect()
}

/// The line ending of the text (its first line's), else the platform's.
fn line_ending(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        Some(_) => "\n",
        None if cfg!(windows) => "\r\n",
        None => "\n",
    }
}

/// The block's lines for `names`: BEGIN, `127.0.0.1 NAME` and `::1 NAME` per name in order,
/// END. Each line ends with `eol`.
fn render(names: &BTreeSet<String>, eol: &str) -> String {
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push_str(eol);
    for name in names {
        for address in ["127.0.0.1", "::1"] {
            out.push_str(address);
            out.push(' ');
            out.push_str(name);
            out.push_str(eol);
        }
    }
    out.push_str(END);
    out.push_str(eol);
    out
}

/// The text without Portico's blocks, where the (first) block was, and whether it was the
/// last thing in the text without a final newline (then it was cut with the line ending
/// before it, and goes back the same way).
fn cut(text: &str) -> Result<(String, Option<usize>, bool), Error> {
    let found = blocks(text)?;
    let mut rest = String::with_capacity(text.len());
    let mut kept_from = 0;
    let mut position = None;
    let mut unterminated = false;
    for block in &found {
        let (from, to) = if block.end.has_terminator(text) {
            (block.begin.start, block.end.end)
        } else {
            // The END line is the text's last and has no newline: take the line ending
            // before BEGIN with it, so removing the block gives back the text it was added to.
            unterminated = true;
            let start = block.begin.start;
            let before = if text[..start].ends_with("\r\n") {
                2
            } else if text[..start].ends_with('\n') {
                1
            } else {
                0
            };
            (start - before, block.end.end)
        };
        let from = from.max(kept_from);
        rest.push_str(&text[kept_from..from]);
        position.get_or_insert(rest.len());
        kept_from = to;
    }
    rest.push_str(&text[kept_from..]);
    Ok((rest, position, unterminated))
}

/// `text` with Portico's block mapping exactly `names` (sorted; no block at all when empty).
/// The block replaces the one already there, in place, else it is appended. Every byte outside
/// the block is kept.
pub fn rewrite(text: &str, names: &BTreeSet<String>) -> Result<String, Error> {
    let (rest, position, was_unterminated) = cut(text)?;
    if names.is_empty() {
        return Ok(rest);
    }
    let eol = line_ending(text);
    let block = render(names, eol);
    let mut out = String::with_capacity(rest.len() + block.len() + 2);
    match position {
        Some(at) if at < rest.len() => {
            out.push_str(&rest[..at]);
            out.push_str(&block);
            out.push_str(&rest[at..]);
        }
        _ => {
            // At the end: a text without a final newline keeps lacking one.
            let unterminated = match position {
                Some(_) => was_unterminated,
                None => !rest.is_empty() && !rest.ends_with('\n'),
            };
            out.push_str(&rest);
            if unterminated {
                if !rest.is_empty() {
                    out.push_str(eol);
                }
                out.push_str(&block[..block.len() - eol.len()]);
            } else {
                out.push_str(&block);
            }
        }
    }
    Ok(out)
}

/// `text` without Portico's block (unchanged when it has none).
pub fn remove(text: &str) -> Result<String, Error> {
    Ok(cut(text)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    const BLOCK_AB: &str = "# BEGIN Portico (managed by Portico; edits inside this block are replaced)\n127.0.0.1 a.test\n::1 a.test\n127.0.0.1 b.test\n::1 b.test\n# END Portico\n";

    #[test]
    fn a_block_is_appended_sorted_and_removed_exactly() {
        let original = "127.0.0.1 localhost\n# a comment\n\n::1 localhost\n";
        let with = rewrite(original, &names(&["b.test", "a.test"])).expect("rewrite");
        assert_eq!(with, format!("{original}{BLOCK_AB}"));
        assert_eq!(managed_names(&with), vec!["a.test", "b.test"]);
        assert_eq!(remove(&with).expect("remove"), original);
    }

    #[test]
    fn a_block_is_replaced_where_it_is_and_foreign_lines_stay() {
        let text = format!("127.0.0.1 localhost\n{BLOCK_AB}10.0.0.1 nas # mine\n");
        let next = rewrite(&text, &names(&["c.test"])).expect("rewrite");
        assert_eq!(
            next,
            "127.0.0.1 localhost\n# BEGIN Portico (managed by Portico; edits inside this block are replaced)\n127.0.0.1 c.test\n::1 c.test\n# END Portico\n10.0.0.1 nas # mine\n"
        );
        assert_eq!(
            rewrite(&text, &BTreeSet::new()).expect("empty"),
            "127.0.0.1 localhost\n10.0.0.1 nas # mine\n"
        );
    }

    #[test]
    fn a_missing_final_newline_stays_missing() {
        let original = "127.0.0.1 localhost";
        let with = rewrite(original, &names(&["a.test"])).expect("rewrite");
        assert!(with.starts_with("127.0.0.1 localhost\n# BEGIN"), "{with:?}");
        assert!(with.ends_with("# END Portico"), "{with:?}");
        assert_eq!(rewrite(&with, &names(&["a.test"])).expect("again"), with);
        let other = rewrite(&with, &names(&["b.test"])).expect("change");
        assert!(other.ends_with("::1 b.test\n# END Portico"), "{other:?}");
        assert_eq!(remove(&other).expect("remove"), original);
        // A blank line before an unterminated block survives a rewrite.
        let spaced = "a\n\n# BEGIN Portico (managed by Portico; edits inside this block are replaced)\n127.0.0.1 x.test\n# END Portico";
        let again = rewrite(spaced, &names(&["x.test"])).expect("rewrite");
        assert!(again.starts_with("a\n\n# BEGIN"), "{again:?}");
        assert_eq!(remove(&again).expect("remove"), "a\n");
    }

    #[test]
    fn crlf_files_get_crlf_blocks() {
        let original = "127.0.0.1 localhost\r\n# comment\r\n";
        let with = rewrite(original, &names(&["a.test"])).expect("rewrite");
        assert_eq!(
            with,
            "127.0.0.1 localhost\r\n# comment\r\n# BEGIN Portico (managed by Portico; edits inside this block are replaced)\r\n127.0.0.1 a.test\r\n::1 a.test\r\n# END Portico\r\n"
        );
        assert_eq!(remove(&with).expect("remove"), original);
        let bare = "127.0.0.1 localhost\r\n# comment";
        let with = rewrite(bare, &names(&["a.test"])).expect("rewrite");
        assert!(with.ends_with("::1 a.test\r\n# END Portico"), "{with:?}");
        assert_eq!(remove(&with).expect("remove"), bare);
    }

    #[test]
    fn an_empty_file_gets_just_the_block() {
        let with = rewrite("", &names(&["a.test"])).expect("rewrite");
        assert!(with.starts_with(BEGIN) && with.ends_with("# END Portico\n"));
        assert_eq!(remove(&with).expect("remove"), "");
        assert_eq!(rewrite("", &BTreeSet::new()).expect("nothing"), "");
    }

    #[test]
    fn broken_blocks_are_refused_naming_the_line() {
        for (text, line) in [
            (format!("a\n{BEGIN}\n127.0.0.1 x.test\n"), 2),
            (format!("a\nb\n{END}\n"), 3),
            (format!("{BEGIN}\n{BEGIN}\n{END}\n"), 2),
        ] {
            match rewrite(&text, &names(&["a.test"])) {
                Err(Error::Malformed { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn duplicate_blocks_become_one() {
        let text = format!("x\n{BLOCK_AB}y\n{BLOCK_AB}z\n");
        let next = rewrite(&text, &names(&["a.test", "b.test"])).expect("rewrite");
        assert_eq!(next, format!("x\n{BLOCK_AB}y\nz\n"));
    }

    #[test]
    fn names_are_read_tolerantly() {
        let text = format!(
            "127.0.0.1 mine.test\n{BEGIN}\n127.0.0.1 A.test  b.test # note\n# comment\nnot-an-address c.test\n::1 a.test\n{END}\n"
        );
        assert_eq!(managed_names(&text), vec!["a.test", "b.test"]);
        assert_eq!(
            foreign_loopback_names(&text)
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["mine.test"]
        );
        assert_eq!(
            managed_names(&format!("{BEGIN}\n127.0.0.1 x.test")),
            vec!["x.test"]
        );
    }
}
