//! What the conversation makes of the engine's lines before drawing them: the order
//! (when things happened), and the invite notices that come in a row told as one line
//! ("3 invites made", "2 new members joined by invite: …").
//!
//! Notices are stored as the words they were said in (any language Kith speaks, either
//! face); [`read_back`] recognises a line as a catalogue message and gives back its
//! variables. Nothing stored is changed: grouping is for the screen only.

use crate::engine::records::{MessageRecord, RecordKind, timeline_key};
use kith_i18n::{Arg, Lang, t};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// A catalogue message said with markers for its variables: literal pieces and slots.
#[derive(Debug, PartialEq, Eq)]
enum Part {
    Lit(String),
    Var(usize),
}

/// The marker of the `i`th variable: a private-use character no catalogue holds.
fn marker(i: usize) -> char {
    char::from_u32(0xE000 + i as u32).unwrap_or('\u{E000}')
}

fn parts(said: &str, vars: usize) -> Vec<Part> {
    let mut out = Vec::new();
    let mut lit = String::new();
    for c in said.chars() {
        match (0..vars).find(|i| marker(*i) == c) {
            Some(i) => {
                if !lit.is_empty() {
                    out.push(Part::Lit(std::mem::take(&mut lit)));
                }
                out.push(Part::Var(i));
            }
            None => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Part::Lit(lit));
    }
    out
}

/// Reads `text` as a message said by `parts`: the variables' values.
fn read(parts: &[Part], text: &str, vars: usize) -> Option<Vec<String>> {
    let mut values: Vec<Option<&str>> = vec![None; vars];
    let mut rest = text;
    for (k, part) in parts.iter().enumerate() {
        match part {
            Part::Lit(l) => rest = rest.strip_prefix(l.as_str())?,
            Part::Var(i) => {
                let value = match parts.get(k + 1) {
                    None => std::mem::take(&mut rest),
                    // The last piece ends the text.
                    Some(Part::Lit(l)) if k + 2 == parts.len() => {
                        let v = rest.strip_suffix(l.as_str())?;
                        rest = &rest[v.len()..];
                        v
                    }
                    Some(Part::Lit(l)) => {
                        let at = rest.find(l.as_str())?;
                        let v = &rest[..at];
                        rest = &rest[at..];
                        v
                    }
                    // Two variables side by side cannot be told apart.
                    Some(Part::Var(_)) => return None,
                };
                if value.is_empty() || values[*i].is_some_and(|v| v != value) {
                    return None;
                }
                values[*i] = Some(value);
            }
        }
    }
    rest.is_empty().then(|| {
        values
            .into_iter()
            .map(|v| v.unwrap_or("").to_owned())
            .collect()
    })
}

type Patterns = Arc<Vec<Vec<Part>>>;

static PATTERNS: LazyLock<Mutex<HashMap<String, Patterns>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The ways message `id` can have been said (each language, each face), `fixed`
/// variables set and `free` ones as markers; made once.
fn patterns(id: &str, fixed: &[(&str, &str)], free: &[&str]) -> Patterns {
    let key = format!("{id}|{fixed:?}|{free:?}");
    let mut cache = PATTERNS.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(key)
        .or_insert_with(|| {
            let mut all: Vec<Vec<Part>> = Vec::new();
            for lang in Lang::ALL {
                for face in ["chat", "cli"] {
                    let mut args: Vec<(&str, Arg)> = vec![("face", Arg::from(face))];
                    args.extend(fixed.iter().map(|(k, v)| (*k, Arg::from(*v))));
                    args.extend(
                        free.iter()
                            .enumerate()
                            .map(|(i, k)| (*k, Arg::from(marker(i).to_string()))),
                    );
                    let p = parts(&kith_i18n::message_in(lang, id, &args), free.len());
                    if !all.contains(&p) {
                        all.push(p);
                    }
                }
            }
            Arc::new(all)
        })
        .clone()
}

/// Whether `text` is catalogue message `id` (in any language, said in either face)
/// with `fixed` variables as given: the values of the `free` ones, in their order.
pub fn read_back(
    text: &str,
    id: &str,
    fixed: &[(&str, &str)],
    free: &[&str],
) -> Option<Vec<String>> {
    patterns(id, fixed, free)
        .iter()
        .find_map(|p| read(p, text, free.len()))
}

/// An invite notice, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
enum InviteNote {
    /// An invite made (`None`: by us).
    Made { by: Option<String>, approval: bool },
    /// A member added with an invite: fingerprint, name when said, who added them.
    Joined {
        fp: String,
        name: Option<String>,
        by: Option<String>,
    },
    /// A new member's name, said once it is known.
    Named { fp: String, name: String },
    /// Someone asks to join (an approval invite).
    Asks { name: String, fp: String },
    /// Our codes closed.
    Closed { codes: String },
}

fn classify(r: &MessageRecord) -> Option<InviteNote> {
    match &r.kind {
        RecordKind::Notice(t) => {
            for (id, approval) in [
                ("engine-state-told-invite", false),
                ("engine-state-told-invite-approval", true),
            ] {
                if read_back(t, id, &[("actor", "you")], &[]).is_some() {
                    return Some(InviteNote::Made { by: None, approval });
                }
                if let Some(v) = read_back(t, id, &[("actor", "other")], &["by"]) {
                    let by = v.into_iter().next();
                    return Some(InviteNote::Made { by, approval });
                }
            }
            if let Some(v) = read_back(
                t,
                "engine-sync-added-invited",
                &[],
                &["by", "fingerprint", "inviter"],
            )
            .or_else(|| read_back(t, "engine-sync-added", &[], &["by", "fingerprint"]))
            {
                return Some(InviteNote::Joined {
                    fp: v[1].clone(),
                    name: None,
                    by: Some(v[0].clone()),
                });
            }
            if let Some(v) = read_back(t, "engine-sync-you-added", &[], &["name", "fingerprint"]) {
                return Some(InviteNote::Joined {
                    fp: v[1].clone(),
                    name: Some(v[0].clone()),
                    by: None,
                });
            }
            read_back(t, "engine-sync-named", &[], &["fingerprint", "name"]).map(|v| {
                InviteNote::Named {
                    fp: v[0].clone(),
                    name: v[1].clone(),
                }
            })
        }
        RecordKind::Alert(t) => {
            if let Some(v) = read_back(
                t,
                "engine-invite-asks-to-join",
                &[],
                &["name", "fingerprint", "inviter", "group"],
            ) {
                return Some(InviteNote::Asks {
                    name: v[0].clone(),
                    fp: v[1].clone(),
                });
            }
            read_back(t, "engine-invite-codes-closed", &[], &["codes"]).map(|v| {
                InviteNote::Closed {
                    codes: v[0].clone(),
                }
            })
        }
        _ => None,
    }
}

/// A line of the conversation: a record as it is, or several told as one.
#[derive(Debug)]
pub enum Line<'a> {
    /// One record.
    One(&'a MessageRecord),
    /// Records in a row told as one line (shown at the first one's time).
    Many {
        /// The first of them.
        first: &'a MessageRecord,
        /// What they say together.
        text: String,
        /// An alert (join requests, closed codes) rather than a notice.
        alert: bool,
    },
}

/// Puts records in the order things happened: a message at its sending time, a notice
/// at its event's; the same second in the relay's order (its sequence numbers). The
/// numbers shown with F3 are the sequence numbers: they do not change.
pub fn in_time_order(records: &mut [&MessageRecord]) {
    records.sort_by_key(|r| timeline_key(r));
}

/// "Olena, you": who did it, in order, each once.
fn who_list(by: &[Option<String>]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for b in by {
        let name = b.clone().unwrap_or_else(|| t!("chat-grouped-you"));
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen.join(", ")
}

/// The records as lines: invite notices of one kind that come in a row (within
/// `together`, e.g. the same day) told as one line.
pub fn group<'a>(
    records: &[&'a MessageRecord],
    together: impl Fn(&MessageRecord, &MessageRecord) -> bool,
) -> Vec<Line<'a>> {
    let notes: Vec<Option<InviteNote>> = records.iter().map(|r| classify(r)).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < records.len() {
        let first = records[i];
        let run_end = |ok: &dyn Fn(&InviteNote) -> bool| {
            let mut j = i + 1;
            while j < records.len()
                && together(first, records[j])
                && notes[j].as_ref().is_some_and(ok)
            {
                j += 1;
            }
            j
        };
        let grouped = match &notes[i] {
            Some(InviteNote::Made { approval, .. }) => {
                let approval = *approval;
                let end = run_end(
                    &|n| matches!(n, InviteNote::Made { approval: a, .. } if *a == approval),
                );
                let by: Vec<Option<String>> = notes[i..end]
                    .iter()
                    .filter_map(|n| match n {
                        Some(InviteNote::Made { by, .. }) => Some(by.clone()),
                        _ => None,
                    })
                    .collect();
                let n = by.len();
                let approval = if approval { "yes" } else { "no" };
                let text = if by.iter().all(Option::is_none) {
                    t!(
                        "chat-grouped-invites-made",
                        actor = "you",
                        by = "",
                        n = n,
                        approval = approval
                    )
                } else if by.iter().all(|b| b.is_some() && *b == by[0]) {
                    let one = by[0].clone().unwrap_or_default();
                    t!(
                        "chat-grouped-invites-made",
                        actor = "other",
                        by = one,
                        n = n,
                        approval = approval
                    )
                } else {
                    t!(
                        "chat-grouped-invites-made",
                        actor = "many",
                        by = who_list(&by),
                        n = n,
                        approval = approval
                    )
                };
                (n >= 2).then_some((end, text, false))
            }
            Some(InviteNote::Joined { .. }) => {
                // Joiners in a row, each with the name it gave when it came with them.
                let mut joiners: Vec<(String, Option<String>, Option<String>)> = Vec::new();
                let mut end = i;
                while end < records.len() && together(first, records[end]) {
                    match &notes[end] {
                        Some(InviteNote::Joined { fp, name, by }) => {
                            joiners.push((fp.clone(), name.clone(), by.clone()));
                        }
                        Some(InviteNote::Named { fp, name }) => {
                            match joiners.iter_mut().find(|j| j.0 == *fp && j.1.is_none()) {
                                Some(j) => j.1 = Some(name.clone()),
                                None => break,
                            }
                        }
                        _ => break,
                    }
                    end += 1;
                }
                let n = joiners.len();
                let list = joiners
                    .iter()
                    .map(|(fp, name, _)| match name {
                        Some(name) => format!("{name} [{fp}]"),
                        None => format!("[{fp}]"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let by: Vec<Option<String>> = joiners.into_iter().map(|j| j.2).collect();
                let text = t!(
                    "chat-grouped-joined",
                    n = n,
                    list = list,
                    by = who_list(&by)
                );
                (n >= 2).then_some((end, text, false))
            }
            Some(InviteNote::Asks { .. }) => {
                let end = run_end(&|n| matches!(n, InviteNote::Asks { .. }));
                let list = notes[i..end]
                    .iter()
                    .filter_map(|n| match n {
                        Some(InviteNote::Asks { name, fp }) => Some(format!("{name} [{fp}]")),
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                let n = list.len();
                let text = t!("chat-grouped-asks", n = n, list = list.join(", "));
                (n >= 2).then_some((end, text, true))
            }
            Some(InviteNote::Closed { .. }) => {
                let end = run_end(&|n| matches!(n, InviteNote::Closed { .. }));
                let codes = notes[i..end]
                    .iter()
                    .filter_map(|n| match n {
                        Some(InviteNote::Closed { codes }) => Some(codes.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                let text = t!("engine-invite-codes-closed", codes = codes.join(", "));
                (codes.len() >= 2).then_some((end, text, true))
            }
            Some(InviteNote::Named { .. }) | None => None,
        };
        match grouped {
            Some((end, text, alert)) => {
                out.push(Line::Many { first, text, alert });
                i = end;
            }
            None => {
                out.push(Line::One(first));
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_i18n::message_in;

    fn said(lang: Lang, id: &str, args: &[(&str, &str)]) -> String {
        let args: Vec<(&str, Arg)> = args.iter().map(|(k, v)| (*k, Arg::from(*v))).collect();
        message_in(lang, id, &args)
    }

    #[test]
    fn a_stored_line_reads_back_as_its_message_in_either_language() {
        for lang in Lang::ALL {
            let text = said(
                lang,
                "engine-sync-added-invited",
                &[
                    ("by", "Olena"),
                    ("fingerprint", "abcd1234e"),
                    ("inviter", "Iryna"),
                ],
            );
            assert_eq!(
                read_back(
                    &text,
                    "engine-sync-added-invited",
                    &[],
                    &["by", "fingerprint", "inviter"]
                ),
                Some(vec!["Olena".into(), "abcd1234e".into(), "Iryna".into()]),
                "{text}"
            );
            assert_eq!(
                read_back(&text, "engine-sync-added", &[], &["by", "fingerprint"]),
                None,
                "{text}"
            );
            let made = said(
                lang,
                "engine-state-told-invite",
                &[("actor", "you"), ("by", "x")],
            );
            assert!(
                read_back(&made, "engine-state-told-invite", &[("actor", "you")], &[]).is_some()
            );
            assert!(
                read_back(
                    &made,
                    "engine-state-told-invite-approval",
                    &[("actor", "you")],
                    &[]
                )
                .is_none()
            );
        }
        assert_eq!(
            read_back("hello", "engine-sync-named", &[], &["fingerprint", "name"]),
            None
        );
    }
}
