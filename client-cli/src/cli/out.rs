//! Where a command's output goes: the terminal (text, or JSON lines with `--json`), or,
//! when the daemon runs the command for another process, a list of [`Item`]s that the
//! other process prints as it would have (`cli/remote.rs`) and a program reads as data.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;

/// One piece of a command's output, in order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Item {
    /// A record: printed as its JSON with `--json`, else as its text (which may hold
    /// several lines; an empty text prints nothing).
    Record {
        /// What `--json` prints.
        json: Value,
        /// What a person sees.
        text: String,
    },
    /// A line for standard output, with or without `--json`.
    Line(String),
    /// A line for standard output for a person only: not printed with `--json`.
    Text(String),
    /// A line for standard error: progress, warnings, hints.
    Note(String),
}

/// A command's output.
pub struct Out {
    json: bool,
    kept: Option<Vec<Item>>,
}

impl Out {
    /// Output straight to the terminal.
    pub fn terminal(json: bool) -> Out {
        Out { json, kept: None }
    }

    /// Output kept as [`Item`]s (for the daemon).
    pub fn kept() -> Out {
        Out {
            json: true,
            kept: Some(Vec::new()),
        }
    }

    /// Whether the output goes to a terminal of this process (so a question may be
    /// asked there).
    pub fn is_terminal(&self) -> bool {
        self.kept.is_none()
    }

    /// A record: its JSON and its text.
    pub fn record(&mut self, json: Value, text: impl Into<String>) {
        self.put(Item::Record {
            json,
            text: text.into(),
        })
    }

    /// A line of standard output.
    pub fn line(&mut self, text: impl Into<String>) {
        self.put(Item::Line(text.into()))
    }

    /// A line of standard output that `--json` leaves out (hints, confirmations).
    pub fn text(&mut self, text: impl Into<String>) {
        self.put(Item::Text(text.into()))
    }

    /// A line of standard error.
    pub fn note(&mut self, text: impl Into<String>) {
        self.put(Item::Note(text.into()))
    }

    /// Prints (or keeps) one item.
    pub fn put(&mut self, item: Item) {
        match &mut self.kept {
            Some(kept) => kept.push(item),
            None => print_item(&item, self.json),
        }
    }

    /// The kept items (none for terminal output).
    pub fn take(&mut self) -> Vec<Item> {
        self.kept.as_mut().map(std::mem::take).unwrap_or_default()
    }
}

/// Prints an item as the terminal face does.
pub fn print_item(item: &Item, json: bool) {
    match item {
        Item::Record { json: v, .. } if json => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{v}");
            let _ = out.flush();
        }
        Item::Text(_) if json => {}
        // A record with nothing to say to a person (`send`'s sequence number).
        Item::Record { text, .. } if text.is_empty() => {}
        Item::Record { text, .. } | Item::Line(text) | Item::Text(text) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
        Item::Note(text) => eprintln!("{text}"),
    }
}
