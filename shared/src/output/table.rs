//! kubectl-style tables: upper-case headers, three spaces between columns, no
//! borders, optional `-o wide` columns, `--no-headers`, and a NAMESPACE column for `-A`.

use std::io::{self, Write};

use owo_colors::Style;

use super::color::paint;

const GAP: usize = 3;

/// One table cell: its text, and a style applied after padding so escape codes
/// never disturb alignment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub text: String,
    pub style: Option<Style>,
}

impl Cell {
    /// A cell; control characters in `text` are escaped (cells hold cluster data).
    pub fn styled(text: impl Into<String>, style: Option<Style>) -> Self {
        let text = text.into();
        let text = match super::escape(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(escaped) => escaped,
        };
        Cell { text, style }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::styled(text, None)
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell::styled(text, None)
    }
}

impl From<&String> for Cell {
    fn from(text: &String) -> Self {
        Cell::styled(text.as_str(), None)
    }
}

#[derive(Debug, Clone)]
struct Column {
    header: String,
    wide_only: bool,
}

#[derive(Debug, Clone)]
struct Row {
    namespace: String,
    cells: Vec<Cell>,
}

/// A table built row by row and rendered once.
#[derive(Debug, Clone, Default)]
pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Row>,
}

/// How to render: `-o wide`, `--no-headers`, and a NAMESPACE column first (kubectl does this with `-A`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TableOptions {
    pub wide: bool,
    pub no_headers: bool,
    pub namespace_column: bool,
}

impl Table {
    /// A table with these columns (headers are upper-cased on output).
    pub fn new<S: AsRef<str>>(headers: &[S]) -> Self {
        Table {
            columns: headers
                .iter()
                .map(|h| Column {
                    header: h.as_ref().to_uppercase(),
                    wide_only: false,
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Add a column shown only with `-o wide`.
    pub fn wide_column(mut self, header: &str) -> Self {
        self.columns.push(Column {
            header: header.to_uppercase(),
            wide_only: true,
        });
        self
    }

    /// Add a row; `cells` has one entry per column (wide ones included). Missing
    /// cells print empty, extra cells are an error in the caller and are dropped.
    pub fn push<C: Into<Cell>>(&mut self, cells: impl IntoIterator<Item = C>) {
        self.push_in("", cells);
    }

    /// Add a row of an object in `namespace`.
    pub fn push_in<C: Into<Cell>>(&mut self, namespace: &str, cells: impl IntoIterator<Item = C>) {
        let mut cells: Vec<Cell> = cells.into_iter().map(Into::into).collect();
        cells.resize(self.columns.len(), Cell::default());
        self.rows.push(Row {
            namespace: namespace.to_string(),
            cells,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The visible grid: header row (unless suppressed) and data rows.
    fn grid(&self, opts: TableOptions) -> Vec<Vec<Cell>> {
        let visible: Vec<usize> = (0..self.columns.len())
            .filter(|&i| opts.wide || !self.columns[i].wide_only)
            .collect();
        let mut grid = Vec::with_capacity(self.rows.len() + 1);
        if !opts.no_headers {
            let mut header: Vec<Cell> = Vec::new();
            if opts.namespace_column {
                header.push("NAMESPACE".into());
            }
            header.extend(visible.iter().map(|&i| Cell::from(&self.columns[i].header)));
            grid.push(header);
        }
        for row in &self.rows {
            let mut line: Vec<Cell> = Vec::new();
            if opts.namespace_column {
                line.push(Cell::from(&row.namespace));
            }
            line.extend(visible.iter().map(|&i| row.cells[i].clone()));
            grid.push(line);
        }
        grid
    }

    /// Render to `out`. Cells are padded to the widest entry of their column
    /// plus three spaces; the last column has no trailing padding.
    pub fn render(&self, opts: TableOptions, out: &mut dyn Write) -> io::Result<()> {
        self.render_aligned(opts, &mut Vec::new(), out)
    }

    /// [`Table::render`] for a table printed in parts (`--watch`): columns
    /// are at least as wide as in the parts before (`widths` carries them
    /// from one part to the next), so later rows line up with earlier ones.
    pub fn render_aligned(
        &self,
        opts: TableOptions,
        widths: &mut Vec<usize>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let grid = self.grid(opts);
        let ncols = grid.first().map_or(0, Vec::len);
        widths.resize(widths.len().max(ncols), 0);
        for line in &grid {
            for (w, cell) in widths.iter_mut().zip(line) {
                *w = (*w).max(display_width(&cell.text));
            }
        }
        let mut text = String::new();
        for line in &grid {
            for (i, cell) in line.iter().enumerate() {
                text.push_str(&paint(&cell.text, cell.style));
                if i + 1 < line.len() {
                    let pad = widths[i] - display_width(&cell.text) + GAP;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            // Trailing spaces appear when later cells are empty; kubectl trims them too.
            let trimmed = text.trim_end_matches(' ').len();
            text.truncate(trimmed);
            text.push('\n');
        }
        out.write_all(text.as_bytes())
    }

    /// Render to a string (tests, snapshots).
    pub fn to_string_with(&self, opts: TableOptions) -> String {
        let mut buf = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.render(opts, &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// Width in terminal columns; wide East Asian characters count twice.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x1F900..=0x1F9FF
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods() -> Table {
        let mut t = Table::new(&["name", "ready", "status"]).wide_column("node");
        t.push_in("default", ["web-1", "1/1", "Running", "node-a"]);
        t.push_in(
            "kube-system",
            ["coredns-5d78c9869d-abcde", "0/1", "Pending", ""],
        );
        t
    }

    #[test]
    fn parts_printed_later_line_up() {
        let mut widths = Vec::new();
        let mut first = Table::new(&["name", "status"]);
        first.push(["a-very-long-name", "Running"]);
        let mut second = Table::new(&["name", "status"]);
        second.push(["b", "Pending"]);
        let mut out = Vec::new();
        first
            .render_aligned(TableOptions::default(), &mut widths, &mut out)
            .unwrap();
        second
            .render_aligned(
                TableOptions {
                    no_headers: true,
                    ..Default::default()
                },
                &mut widths,
                &mut out,
            )
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let columns: Vec<usize> = text
            .lines()
            .map(|l| {
                l.find("Running")
                    .or(l.find("Pending"))
                    .or(l.find("STATUS"))
                    .unwrap()
            })
            .collect();
        assert!(columns.windows(2).all(|w| w[0] == w[1]), "{text}");
    }

    #[test]
    fn kubectl_layout() {
        let out = pods().to_string_with(TableOptions::default());
        assert_eq!(
            out,
            "NAME                       READY   STATUS\n\
             web-1                      1/1     Running\n\
             coredns-5d78c9869d-abcde   0/1     Pending\n"
        );
    }

    #[test]
    fn wide_and_namespace_and_no_headers() {
        let out = pods().to_string_with(TableOptions {
            wide: true,
            no_headers: false,
            namespace_column: true,
        });
        assert_eq!(
            out,
            "NAMESPACE     NAME                       READY   STATUS    NODE\n\
             default       web-1                      1/1     Running   node-a\n\
             kube-system   coredns-5d78c9869d-abcde   0/1     Pending\n"
        );
        let out = pods().to_string_with(TableOptions {
            no_headers: true,
            ..Default::default()
        });
        assert!(out.starts_with("web-1 "));
        assert_eq!(out.lines().count(), 2);
    }

    #[test]
    fn colour_does_not_shift_columns() {
        let red = Some(Style::new().red());
        let mut t = Table::new(&["a", "b"]);
        t.push([Cell::styled("x", red), Cell::from("y")]);
        t.push([Cell::from("long"), Cell::from("z")]);
        let out = t.to_string_with(TableOptions::default());
        let plain: String = strip_ansi(&out);
        assert_eq!(plain, "A      B\nx      y\nlong   z\n");
        assert!(out.contains('\u{1b}'));
    }

    #[test]
    fn short_rows_are_padded() {
        let mut t = Table::new(&["a", "b", "c"]);
        t.push(["1"]);
        assert_eq!(t.to_string_with(TableOptions::default()), "A   B   C\n1\n");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn wide_characters_count_double() {
        let mut t = Table::new(&["n", "v"]);
        t.push(["日本", "x"]);
        t.push(["abcd", "y"]);
        assert_eq!(
            t.to_string_with(TableOptions::default()),
            "N      V\n日本   x\nabcd   y\n"
        );
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
