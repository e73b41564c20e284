//! The input line: a small multi-line editor with history.
//!
//! The text is a `String` with the cursor at a byte offset on a char boundary. Newlines
//! come from a paste (bracketed paste, one event) or from Alt-Enter / Ctrl-J. History
//! lives in memory only: nothing typed is ever written to disk in clear.

use unicode_width::UnicodeWidthChar;

/// How many submitted lines the history keeps.
pub const HISTORY: usize = 200;

/// A line editor with history.
#[derive(Debug, Default, Clone)]
pub struct LineEditor {
    text: String,
    cursor: usize,
    history: Vec<String>,
    /// Position while browsing the history (`history.len()` = the draft).
    browsing: Option<usize>,
    draft: String,
}

/// Cleans text coming in (typed or pasted): line ends become `\n`, tabs four spaces,
/// other control characters are dropped.
fn clean(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push_str("    "),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

impl LineEditor {
    /// An empty editor.
    pub fn new() -> Self {
        Self::default()
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether there is no text.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The cursor, a byte offset into [`LineEditor::text`].
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Replaces the text; the cursor goes to its end.
    pub fn set_text(&mut self, text: &str) {
        self.text = clean(text);
        self.cursor = self.text.len();
    }

    /// Empties the editor (history stays).
    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
        self.browsing = None;
    }

    /// Takes the text out, remembering it in the history.
    pub fn submit(&mut self) -> String {
        let text = std::mem::take(&mut self.text);
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
        if !text.trim().is_empty() && self.history.last() != Some(&text) {
            self.history.push(text.clone());
            if self.history.len() > HISTORY {
                self.history.remove(0);
            }
        }
        text
    }

    /// Inserts one character at the cursor.
    pub fn insert_char(&mut self, c: char) {
        if c == '\n' || !c.is_control() {
            self.text.insert(self.cursor, c);
            self.cursor += c.len_utf8();
        } else if c == '\t' {
            self.insert_str("    ");
        }
    }

    /// Inserts text (a paste) at the cursor.
    pub fn insert_str(&mut self, s: &str) {
        let s = clean(s);
        self.text.insert_str(self.cursor, &s);
        self.cursor += s.len();
    }

    fn prev_boundary(&self, at: usize) -> usize {
        self.text[..at]
            .char_indices()
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    fn next_boundary(&self, at: usize) -> usize {
        self.text[at..]
            .chars()
            .next()
            .map_or(at, |c| at + c.len_utf8())
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            let p = self.prev_boundary(self.cursor);
            self.text.replace_range(p..self.cursor, "");
            self.cursor = p;
        }
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.text.len() {
            let n = self.next_boundary(self.cursor);
            self.text.replace_range(self.cursor..n, "");
        }
    }

    /// Moves one character left.
    pub fn left(&mut self) {
        self.cursor = self.prev_boundary(self.cursor);
    }

    /// Moves one character right.
    pub fn right(&mut self) {
        self.cursor = self.next_boundary(self.cursor);
    }

    fn line_start(&self) -> usize {
        self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1)
    }

    fn line_end(&self) -> usize {
        self.text[self.cursor..]
            .find('\n')
            .map_or(self.text.len(), |i| self.cursor + i)
    }

    /// Moves to the start of the current line.
    pub fn home(&mut self) {
        self.cursor = self.line_start();
    }

    /// Moves to the end of the current line.
    pub fn end(&mut self) {
        self.cursor = self.line_end();
    }

    /// Moves to the start of the previous word.
    pub fn word_left(&mut self) {
        let before: Vec<(usize, char)> = self.text[..self.cursor].char_indices().collect();
        let mut i = before.len();
        while i > 0 && before[i - 1].1.is_whitespace() {
            i -= 1;
        }
        while i > 0 && !before[i - 1].1.is_whitespace() {
            i -= 1;
        }
        self.cursor = before.get(i).map_or(0, |(b, _)| *b);
    }

    /// Moves past the end of the next word.
    pub fn word_right(&mut self) {
        let mut at = self.cursor;
        let mut chars = self.text[at..].chars().peekable();
        while let Some(c) = chars.peek().copied()
            && c.is_whitespace()
        {
            at += c.len_utf8();
            chars.next();
        }
        while let Some(c) = chars.peek().copied()
            && !c.is_whitespace()
        {
            at += c.len_utf8();
            chars.next();
        }
        self.cursor = at;
    }

    /// Deletes the word before the cursor (Ctrl-W).
    pub fn delete_word_back(&mut self) {
        let end = self.cursor;
        self.word_left();
        self.text.replace_range(self.cursor..end, "");
    }

    /// Deletes from the start of the line to the cursor (Ctrl-U).
    pub fn kill_to_start(&mut self) {
        let s = self.line_start();
        let s = if s == self.cursor && s > 0 { s - 1 } else { s };
        self.text.replace_range(s..self.cursor, "");
        self.cursor = s;
    }

    /// Deletes from the cursor to the end of the line (Ctrl-K).
    pub fn kill_to_end(&mut self) {
        let e = self.line_end();
        let e = if e == self.cursor && e < self.text.len() {
            e + 1
        } else {
            e
        };
        self.text.replace_range(self.cursor..e, "");
    }

    /// Moves up a line; false when already on the first line.
    pub fn up(&mut self) -> bool {
        let start = self.line_start();
        if start == 0 {
            return false;
        }
        let col = self.text[start..self.cursor].chars().count();
        let prev_start = self.text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
        self.cursor = advance(&self.text, prev_start, start - 1, col);
        true
    }

    /// Moves down a line; false when already on the last line.
    pub fn down(&mut self) -> bool {
        let end = self.line_end();
        if end == self.text.len() {
            return false;
        }
        let col = self.text[self.line_start()..self.cursor].chars().count();
        let next_start = end + 1;
        let next_end = self.text[next_start..]
            .find('\n')
            .map_or(self.text.len(), |i| next_start + i);
        self.cursor = advance(&self.text, next_start, next_end, col);
        true
    }

    /// Where each cursor position sits when the text is laid out `width` columns wide
    /// (as [`LineEditor::layout`] draws it): byte offset, row, column; the end of the
    /// text included.
    fn positions(&self, width: usize) -> Vec<(usize, usize, usize)> {
        let width = width.max(2);
        let mut out = Vec::with_capacity(self.text.len() + 1);
        let (mut row, mut col) = (0, 0);
        for (i, c) in self.text.char_indices() {
            // As in `layout`: a cursor before a character that wraps stays at the end
            // of the full row.
            out.push((i, row, col));
            if c == '\n' {
                row += 1;
                col = 0;
                continue;
            }
            let w = c.width().unwrap_or(0);
            if col + w > width {
                row += 1;
                col = 0;
            }
            col += w;
        }
        if col >= width {
            row += 1;
            col = 0;
        }
        out.push((self.text.len(), row, col));
        out
    }

    /// Moves up one row of the text as drawn `width` columns wide (a long line wraps
    /// into several); false when already on the first row.
    pub fn up_row(&mut self, width: usize) -> bool {
        self.move_row(width, false)
    }

    /// Moves down one row of the text as drawn `width` columns wide; false when already
    /// on the last row.
    pub fn down_row(&mut self, width: usize) -> bool {
        self.move_row(width, true)
    }

    fn move_row(&mut self, width: usize, down: bool) -> bool {
        let at = self.positions(width);
        let Some(&(_, row, col)) = at.iter().find(|(b, _, _)| *b == self.cursor) else {
            return false;
        };
        let last = at.last().map_or(0, |(_, r, _)| *r);
        let target = match (down, row) {
            (false, 0) => return false,
            (false, r) => r - 1,
            (true, r) if r >= last => return false,
            (true, r) => r + 1,
        };
        // The column nearest the cursor's, not past it; else the row's first.
        let on_row = at.iter().filter(|(_, r, _)| *r == target);
        let best = on_row
            .clone()
            .rfind(|(_, _, c)| *c <= col)
            .or_else(|| on_row.clone().next());
        match best {
            Some(&(b, _, _)) => {
                self.cursor = b;
                true
            }
            None => false,
        }
    }

    /// Shows the previous history entry (the draft is kept).
    pub fn history_prev(&mut self) {
        let pos = self.browsing.unwrap_or(self.history.len());
        if pos == 0 {
            return;
        }
        if self.browsing.is_none() {
            self.draft = self.text.clone();
        }
        self.browsing = Some(pos - 1);
        self.text = self.history[pos - 1].clone();
        self.cursor = self.text.len();
    }

    /// Shows the next history entry, or the draft after the last.
    pub fn history_next(&mut self) {
        let Some(pos) = self.browsing else {
            return;
        };
        if pos + 1 >= self.history.len() {
            self.browsing = None;
            self.text = std::mem::take(&mut self.draft);
        } else {
            self.browsing = Some(pos + 1);
            self.text = self.history[pos + 1].clone();
        }
        self.cursor = self.text.len();
    }

    /// Lays the text out in rows of at most `width` columns: the rows, and the cursor's
    /// (row, column).
    pub fn layout(&self, width: usize) -> (Vec<String>, (usize, usize)) {
        let width = width.max(2);
        let mut rows = vec![String::new()];
        let mut col = 0;
        let mut cursor = (0, 0);
        for (i, c) in self.text.char_indices() {
            if i == self.cursor {
                cursor = (rows.len() - 1, col);
            }
            if c == '\n' {
                rows.push(String::new());
                col = 0;
                continue;
            }
            let w = c.width().unwrap_or(0);
            if col + w > width {
                rows.push(String::new());
                col = 0;
            }
            if let Some(r) = rows.last_mut() {
                r.push(c);
            }
            col += w;
        }
        if self.cursor >= self.text.len() {
            // The cursor after the last character: on the next row if this one is full.
            if col >= width {
                rows.push(String::new());
                col = 0;
            }
            cursor = (rows.len() - 1, col);
        }
        (rows, cursor)
    }
}

/// The byte offset `col` characters into `text[from..to]` (clamped to `to`).
fn advance(text: &str, from: usize, to: usize, col: usize) -> usize {
    text[from..to]
        .char_indices()
        .nth(col)
        .map_or(to, |(i, _)| from + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> LineEditor {
        let mut e = LineEditor::new();
        for c in s.chars() {
            e.insert_char(c);
        }
        e
    }

    #[test]
    fn editing_moves_and_deletes_by_character() {
        let mut e = typed("héllo");
        e.left();
        e.left();
        e.backspace();
        assert_eq!(e.text(), "hélo");
        e.home();
        e.delete();
        assert_eq!(e.text(), "élo");
        e.end();
        e.insert_char('!');
        assert_eq!(e.text(), "élo!");
    }

    #[test]
    fn words_and_kills() {
        let mut e = typed("one two  three");
        e.delete_word_back();
        assert_eq!(e.text(), "one two  ");
        e.word_left();
        e.kill_to_end();
        assert_eq!(e.text(), "one ");
        e.insert_str("x y");
        e.word_left();
        e.kill_to_start();
        assert_eq!(e.text(), "y");
    }

    #[test]
    fn paste_keeps_lines_and_drops_control_characters() {
        let mut e = LineEditor::new();
        e.insert_str("a\r\nb\rc\x1b[2J\td");
        assert_eq!(e.text(), "a\nb\nc[2J    d");
        assert!(e.up());
        assert!(e.up());
        assert!(!e.up());
        assert!(e.down());
        assert!(e.down());
        assert!(!e.down());
    }

    #[test]
    fn history_browses_and_restores_the_draft() {
        let mut e = LineEditor::new();
        e.set_text("first");
        e.submit();
        e.set_text("second");
        e.submit();
        e.set_text("draft");
        e.history_prev();
        assert_eq!(e.text(), "second");
        e.history_prev();
        e.history_prev();
        assert_eq!(e.text(), "first");
        e.history_next();
        e.history_next();
        assert_eq!(e.text(), "draft");
    }

    #[test]
    fn up_and_down_move_between_wrapped_rows() {
        // 10 columns: "aaaaaaaaaa" / "bbbbbbbbbb" / "cc", the cursor at the end.
        let mut e = typed("aaaaaaaaaabbbbbbbbbbcc");
        assert_eq!(e.layout(10).1, (2, 2));
        assert!(e.up_row(10));
        assert_eq!(e.layout(10).1, (1, 2));
        assert_eq!(e.cursor(), 12);
        assert!(e.up_row(10));
        assert_eq!(e.layout(10).1, (0, 2));
        assert!(!e.up_row(10), "the first row: history's turn");
        assert!(e.down_row(10));
        assert!(e.down_row(10));
        assert_eq!(e.cursor(), e.text().len());
        assert!(!e.down_row(10), "the last row: history's turn");
        // Explicit newlines are rows too, and a short row takes the cursor to its end.
        let mut e = typed("one\nsecond line");
        assert!(e.up_row(20));
        assert_eq!(e.cursor(), 3);
        assert!(!e.up_row(20));
    }

    #[test]
    fn layout_wraps_and_places_the_cursor() {
        let e = typed("abcdef\ngh");
        let (rows, cursor) = e.layout(4);
        assert_eq!(rows, vec!["abcd", "ef", "gh"]);
        assert_eq!(cursor, (2, 2));
        let e = typed("abcd");
        let (rows, cursor) = e.layout(4);
        assert_eq!(rows, vec!["abcd", ""]);
        assert_eq!(cursor, (1, 0));
    }
}
