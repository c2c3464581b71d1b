//! What commands print on stdout: query results as a table, CSV, JSON or JSON lines, and the
//! one aligned-table layout every table of the binary uses.

use std::io::Write;

use anyhow::Context;
use pinpipe_serving::query::Rows;
use serde_json::Value;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// CSV with a header row; null is an empty field.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Jsonl,
}

/// Prints a result on stdout; a closed pipe (`| head`) is not an error.
pub fn print(result: &Rows, format: Format) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let outcome = write(&mut out, format, result).and_then(|()| out.flush());
    match outcome {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write the result"),
    }
}

fn write(out: &mut impl Write, format: Format, result: &Rows) -> std::io::Result<()> {
    match format {
        Format::Jsonl => {
            for row in &result.rows {
                writeln!(out, "{}", object(&result.columns, row))?;
            }
        }
        Format::Json => {
            write!(out, "[")?;
            for (i, row) in result.rows.iter().enumerate() {
                write!(
                    out,
                    "{}{}",
                    if i > 0 { "," } else { "" },
                    object(&result.columns, row)
                )?;
            }
            writeln!(out, "]")?;
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(&result.columns)?;
            for row in &result.rows {
                csv.write_record(row.iter().map(|v| plain(v, "")))?;
            }
            csv.flush()?;
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = result
                .rows
                .iter()
                .map(|row| row.iter().map(|v| plain(v, "NULL")).collect())
                .collect();
            table(out, &result.columns, &cells, &[])?;
            writeln!(
                out,
                "({} row{})",
                cells.len(),
                if cells.len() == 1 { "" } else { "s" }
            )?;
        }
    }
    Ok(())
}

/// How a column's cells are padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text at the left (the default).
    Left,
    /// Text at the right (numbers).
    Right,
}

/// Writes `header` and `rows` as aligned columns: each as wide as its widest cell (in
/// characters), two spaces apart, no white space at the end of a line. Column `i` is aligned
/// as `align[i]`, left where `align` is shorter. A table without columns has no header line.
pub fn table(
    out: &mut impl Write,
    header: &[String],
    rows: &[Vec<String>],
    align: &[Align],
) -> std::io::Result<()> {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .filter_map(|row| row.get(i))
                .chain([&header[i]])
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| match align.get(i) {
                Some(Align::Right) => format!("{cell:>w$}"),
                Some(Align::Left) | None => format!("{cell:<w$}"),
            })
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    if !header.is_empty() {
        writeln!(out, "{}", line(header))?;
    }
    for row in rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

/// `{"col": value, …}` in column order.
fn object(columns: &[String], row: &[Value]) -> String {
    let mut text = String::from("{");
    for (i, (column, value)) in columns.iter().zip(row).enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&Value::String(column.clone()).to_string());
        text.push(':');
        text.push_str(&value.to_string());
    }
    text.push('}');
    text
}

/// A value as text for CSV and tables: strings bare, null as `null_text`, the rest as JSON.
fn plain(value: &Value, null_text: &str) -> String {
    match value {
        Value::Null => null_text.to_owned(),
        Value::String(text) => text.replace(['\n', '\r', '\t'], " "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(header: &[&str], rows: &[&[&str]], align: &[Align]) -> String {
        let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(|c| c.to_string()).collect())
            .collect();
        let mut out = Vec::new();
        table(&mut out, &header, &rows, align).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_in_characters() {
        assert_eq!(
            text(&["a", "bb"], &[&["ééé", "1"], &["x", ""]], &[]),
            "a    bb\nééé  1\nx\n"
        );
    }

    #[test]
    fn right_aligned_columns_pad_on_the_left() {
        assert_eq!(
            text(
                &["TOPIC", "N"],
                &[&["pins", "10"], &["geos", "2"]],
                &[Align::Left, Align::Right]
            ),
            "TOPIC   N\npins   10\ngeos    2\n"
        );
    }

    #[test]
    fn no_columns_no_header() {
        assert_eq!(text(&[], &[&[], &[]], &[]), "\n\n");
    }
}
