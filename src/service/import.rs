//! Import from the company's sales-management system (seed 000: "no typing
//! twice, one shared master"): customers, contacts, products, sales records
//! and marketing touchpoints, from CSV or JSON, matched by the other
//! system's code so that importing the same file again changes nothing.
//!
//! The file is read as a stream, `BATCH_ROWS` rows at a time: each batch is
//! parsed on a blocking thread while the one before it is checked and
//! written, so memory holds a batch, not the file (a history of a million
//! activities imports in bounded memory). Every bad row is reported with its
//! line (CSV) or position (JSON) and the reason; a file with a bad row
//! imports nothing unless the caller asks to skip bad rows (the batches are
//! written inside a savepoint that a bad row rolls back). A dry run reports
//! what would be created, updated and left alone, and writes nothing. The
//! write is one transaction with one audit entry for the import.

use std::{
    cell::RefCell,
    collections::{HashMap, HashSet, VecDeque},
    io::{BufRead, BufReader, Read},
    path::PathBuf,
    rc::Rc,
    sync::Arc,
};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use entity::{
    activity, activity_contact, activity_product, activity_reaction, contact, customer, deal, deal_member,
    deal_stage_history,
    enums::{ActivityKind, ActivityStatus, CustomerStatus, DealStatus, PeriodKind, Role, TaskKind, TaskStatus},
    member, product, sales_record, target, task, team, touchpoint,
};
use rhai::Map;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Iterable, QueryFilter, QuerySelect,
    TransactionSession, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::{Actor, Scoped, audit, new_id, now};
use crate::error::AppResult;

/// Most errors listed in a report (the count is always exact).
const MAX_LISTED_ERRORS: usize = 1000;
/// Bound values per INSERT statement (SQLite allows 32,766; PostgreSQL 65,535).
const MAX_PARAMS: usize = 30_000;
/// Keys per lookup statement.
const LOOKUP_CHUNK: usize = 1000;

/// What a file holds.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// `code`, `name`, `name_kana`, `industry`, `address`, `phone`, `website`, `owner_email`, `priority`.
    Customers,
    /// `code`, `customer_code`, `name`, `name_kana`, `department`, `title`, `level`, `email`, `phone`.
    Contacts,
    /// `code`, `name`, `category`, `unit_price`, `focus`.
    Products,
    /// `ref`, `sold_on`, `customer_code`, `product_code`, `member_email`, `amount`, `gross_profit`, `quantity`.
    SalesRecords,
    /// `ref`, `customer_code`, `contact_code`, `kind`, `occurred_at`, `title`, `url`, `source`.
    Touchpoints,
    /// `code`, `customer_code`, `name`, `stage`, `owner_email`, `amount`, `expected_close`,
    /// `status`, `created_at`, `closed_at`, `lost_reason`, `origin`, `description`.
    Deals,
    /// `deal_code`, `to_stage`, `changed_at`, `from_stage`, `changed_by_email`: every
    /// stage a deal went through, oldest first; replaces the history of each deal named.
    DealStageHistory,
    /// `name`, `parent`, `manager_email`: teams by name.
    Teams,
    /// `email`, `name`, `role`, `team`, `active`: members by e-mail, without
    /// passwords (an admin gives each one with `resetMemberPassword`).
    Members,
    /// `period_start`, `metric`, `value`, `member_email`, `team`, `period_kind`.
    Targets,
    /// `ref`, `customer_code`, `member_email`, `kind`, `scheduled_at`, `status`, `done_at`,
    /// `subject`, `deal_code`, `duration_minutes`, `attendees`, `notes`, `outcome`,
    /// `contact_codes`, `product_codes`, `reactions`: scored with the company's script.
    Activities,
    /// `ref`, `title`, `assignee_email`, `status`, `due_date`, `customer_code`, `deal_code`,
    /// `description`, `kind`, `completed_at`, `created_at`.
    Tasks,
}

impl ImportKind {
    /// The kind named `s` (`customers`, `sales-records`, `sales_records`…).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "customers" => Self::Customers,
            "contacts" => Self::Contacts,
            "products" => Self::Products,
            "sales_records" | "sales" => Self::SalesRecords,
            "touchpoints" => Self::Touchpoints,
            "deals" | "opportunities" => Self::Deals,
            "deal_stage_history" | "stage_history" | "opportunity_history" => Self::DealStageHistory,
            "teams" => Self::Teams,
            "members" | "users" => Self::Members,
            "targets" | "quotas" => Self::Targets,
            "activities" | "events" => Self::Activities,
            "tasks" => Self::Tasks,
            _ => return None,
        })
    }

    /// The columns a file of this kind must have, then the ones it may have.
    pub fn columns(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Self::Customers => (
                &["code", "name"],
                &[
                    "name_kana",
                    "industry",
                    "address",
                    "phone",
                    "website",
                    "owner_email",
                    "priority",
                ],
            ),
            Self::Contacts => (
                &["code", "customer_code", "name"],
                &["name_kana", "department", "title", "level", "email", "phone"],
            ),
            Self::Products => (&["code", "name"], &["category", "unit_price", "focus"]),
            Self::SalesRecords => (
                &["ref", "sold_on", "customer_code", "amount", "gross_profit"],
                &["product_code", "member_email", "quantity"],
            ),
            Self::Touchpoints => (
                &["ref", "customer_code", "kind", "occurred_at"],
                &["contact_code", "title", "url", "source"],
            ),
            Self::Deals => (
                &["code", "customer_code", "name", "stage", "owner_email"],
                &[
                    "amount",
                    "expected_close",
                    "status",
                    "created_at",
                    "closed_at",
                    "lost_reason",
                    "origin",
                    "description",
                ],
            ),
            Self::DealStageHistory => (
                &["deal_code", "to_stage", "changed_at"],
                &["from_stage", "changed_by_email"],
            ),
            Self::Teams => (&["name"], &["parent", "manager_email"]),
            Self::Members => (&["email", "name"], &["role", "team", "active"]),
            Self::Targets => (
                &["period_start", "metric", "value"],
                &["member_email", "team", "period_kind"],
            ),
            Self::Activities => (
                &["ref", "customer_code", "member_email", "kind", "scheduled_at"],
                &[
                    "status",
                    "done_at",
                    "subject",
                    "deal_code",
                    "duration_minutes",
                    "attendees",
                    "notes",
                    "outcome",
                    "contact_codes",
                    "product_codes",
                    "reactions",
                ],
            ),
            Self::Tasks => (
                &["ref", "title", "assignee_email"],
                &[
                    "status",
                    "due_date",
                    "customer_code",
                    "deal_code",
                    "description",
                    "kind",
                    "completed_at",
                    "created_at",
                ],
            ),
        }
    }

    /// The column no two rows of a file may share (a deal's history has many rows per deal).
    fn unique_key(self) -> Option<&'static str> {
        match self {
            // Keyed by several columns, checked where they are read.
            Self::DealStageHistory | Self::Targets => None,
            other => Some(other.columns().0[0]),
        }
    }
}

/// The file's format.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// Comma-separated, a header row first, UTF-8 (a byte-order mark is fine).
    Csv,
    /// An array of objects keyed by column name.
    Json,
}

impl ImportFormat {
    /// Guessed from a file name: `.json` is JSON, anything else CSV.
    pub fn from_name(name: &str) -> Self {
        if name.to_ascii_lowercase().ends_with(".json") {
            Self::Json
        } else {
            Self::Csv
        }
    }
}

/// How to import.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Check and count, write nothing.
    pub dry_run: bool,
    /// Import the good rows of a file that has bad ones.
    pub skip_bad_rows: bool,
}

/// One bad row.
#[derive(Debug, Clone, PartialEq, Eq, async_graphql::SimpleObject)]
pub struct RowError {
    /// Line in the CSV file (the header is line 1), or position in the JSON array (from 1); 0 for the whole file.
    pub line: usize,
    /// What is wrong, column by column.
    pub message: String,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, async_graphql::SimpleObject)]
pub struct Report {
    /// What the file held.
    pub kind: ImportKind,
    /// Data rows read.
    pub rows: usize,
    /// New records.
    pub created: usize,
    /// Records whose values changed.
    pub updated: usize,
    /// Records already as the file says.
    pub unchanged: usize,
    /// Bad rows left out (with `skipBadRows`).
    pub skipped: usize,
    /// Bad rows, all counted.
    pub error_count: usize,
    /// The first 1,000 bad rows.
    pub errors: Vec<RowError>,
    /// Nothing was written because this was a dry run.
    pub dry_run: bool,
    /// The changes were written.
    pub applied: bool,
}

impl Report {
    fn new(kind: ImportKind, opts: Options) -> Self {
        Self {
            kind,
            rows: 0,
            created: 0,
            updated: 0,
            unchanged: 0,
            skipped: 0,
            error_count: 0,
            errors: Vec::new(),
            dry_run: opts.dry_run,
            applied: false,
        }
    }

    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.error_count += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(RowError {
                line,
                message: message.into(),
            });
        }
    }
}

/// A batch of a file: the columns it has, and its rows.
struct File {
    columns: HashSet<String>,
    rows: Vec<Row>,
}

/// One data row: its line and its non-empty cells by column name.
#[derive(Debug)]
struct Row {
    line: usize,
    cells: HashMap<String, String>,
}

/// Rows read, checked and written at a time: memory holds one batch of
/// parsed rows, whatever the size of the file.
pub const BATCH_ROWS: usize = 5_000;

/// Where an import's file comes from. Opened again for each attempt (a
/// write that collided with another is run again from the start).
#[derive(Debug, Clone)]
pub enum Source {
    /// The file's bytes (an upload, or the text of a mutation).
    Bytes(Arc<[u8]>),
    /// A file on the machine (the command line), read as it is imported.
    Path(PathBuf),
}

impl Source {
    fn open(&self) -> Result<Box<dyn Read + Send>, String> {
        match self {
            Self::Bytes(b) => Ok(Box::new(std::io::Cursor::new(Arc::clone(b)))),
            Self::Path(p) => std::fs::File::open(p)
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .map_err(|e| format!("{}: {e}", p.display())),
        }
    }
}

/// A batch of rows of one file with the columns it has (a JSON file's
/// columns are the keys its rows in the batch use).
struct Batch {
    columns: Vec<String>,
    rows: Vec<Row>,
}

/// Line feeds handed to the CSV parser that no record has passed yet, so
/// that a record's byte offset gives its line. The parser reads a few
/// kilobytes ahead, so this holds that many at most.
#[derive(Default)]
struct Lines {
    pending: VecDeque<u64>,
    passed: usize,
}

impl Lines {
    /// The line `byte` is on, a line feed counting as the end of its line.
    /// Asked in file order only.
    fn line_at(&mut self, byte: u64) -> usize {
        while self.pending.front().is_some_and(|&nl| nl <= byte) {
            self.pending.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// The file's bytes as the parsers get them: a UTF-8 byte-order mark
/// dropped, a NUL or a byte that is not UTF-8 refused with its place (the
/// message is kept in `fault`, as the parsers only pass an I/O error on).
struct Checked<R> {
    inner: R,
    /// Bytes handed on so far.
    offset: u64,
    /// Line feeds handed on so far.
    newlines: usize,
    /// The start of a UTF-8 sequence that the last read cut in two.
    carry: Vec<u8>,
    lines: Option<Rc<RefCell<Lines>>>,
    fault: Rc<RefCell<Option<String>>>,
}

impl<R: BufRead> Checked<R> {
    fn new(mut inner: R, lines: Option<Rc<RefCell<Lines>>>, fault: Rc<RefCell<Option<String>>>) -> Self {
        if inner.fill_buf().is_ok_and(|b| b.starts_with(b"\xEF\xBB\xBF")) {
            inner.consume(3);
        }
        Self {
            inner,
            offset: 0,
            newlines: 0,
            carry: Vec::new(),
            lines,
            fault,
        }
    }

    fn refuse(&self, message: String) -> std::io::Error {
        *self.fault.borrow_mut() = Some(message.clone());
        std::io::Error::new(std::io::ErrorKind::InvalidData, message)
    }
}

impl<R: BufRead> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = &buf[..n];
        if n == 0 && !self.carry.is_empty() {
            return Err(self.refuse(format!(
                "the file is not UTF-8 text (byte {}); save it as UTF-8 (Shift_JIS is not read)",
                self.offset - self.carry.len() as u64 + 1
            )));
        }
        // PostgreSQL cannot store NUL in text; SQLite could, so refuse it on both.
        if let Some(at) = got.iter().position(|b| *b == 0) {
            let line = self.newlines + got[..at].iter().filter(|b| **b == b'\n').count() + 1;
            return Err(self.refuse(format!("the file holds a NUL character (line {line}); remove it")));
        }
        let mut check = std::mem::take(&mut self.carry);
        let carried = check.len() as u64;
        check.extend_from_slice(got);
        if let Err(e) = std::str::from_utf8(&check) {
            if e.error_len().is_some() {
                return Err(self.refuse(format!(
                    "the file is not UTF-8 text (byte {}); save it as UTF-8 (Shift_JIS is not read)",
                    self.offset - carried + e.valid_up_to() as u64 + 1
                )));
            }
            self.carry = check[e.valid_up_to()..].to_vec();
        }
        for (i, _) in got.iter().enumerate().filter(|(_, b)| **b == b'\n') {
            self.newlines += 1;
            if let Some(lines) = &self.lines {
                lines.borrow_mut().pending.push_back(self.offset + i as u64);
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// Cuts a file into batches of `size` rows, where `may_cut` allows it
/// between two rows.
struct Batcher<C, E> {
    size: usize,
    may_cut: C,
    emit: E,
    rows: Vec<Row>,
    emitted: bool,
    stopped: bool,
}

impl<C: Fn(&Row, &Row) -> bool, E: FnMut(Batch) -> bool> Batcher<C, E> {
    fn new(size: usize, may_cut: C, emit: E) -> Self {
        Self {
            size: size.max(1),
            may_cut,
            emit,
            rows: Vec::new(),
            emitted: false,
            stopped: false,
        }
    }

    /// Adds a row; false once the receiver wants no more.
    fn push(&mut self, row: Row, columns: impl FnOnce(&[Row]) -> Vec<String>) -> bool {
        if self.rows.len() >= self.size && self.rows.last().is_some_and(|last| (self.may_cut)(last, &row)) {
            self.flush(columns);
        }
        self.rows.push(row);
        !self.stopped
    }

    fn flush(&mut self, columns: impl FnOnce(&[Row]) -> Vec<String>) {
        let rows = std::mem::take(&mut self.rows);
        let columns = columns(&rows);
        self.emitted = true;
        if !(self.emit)(Batch { columns, rows }) {
            self.stopped = true;
        }
    }

    /// Hands on the last rows; an empty file still gives one (empty) batch,
    /// so that its header is checked.
    fn finish(mut self, columns: impl FnOnce(&[Row]) -> Vec<String>) {
        if !self.stopped && (!self.rows.is_empty() || !self.emitted) {
            self.flush(columns);
        }
    }
}

/// Reads the file batch by batch, handing each to `emit` (which returns
/// false to stop); a file that cannot be read is one message, for line 0.
fn read_rows(
    input: impl Read,
    format: ImportFormat,
    batch_rows: usize,
    may_cut: impl Fn(&Row, &Row) -> bool,
    emit: impl FnMut(Batch) -> bool,
) -> Result<(), String> {
    let fault = Rc::new(RefCell::new(None));
    let lines = (format == ImportFormat::Csv).then(|| Rc::new(RefCell::new(Lines::default())));
    let input = Checked::new(BufReader::new(input), lines.clone(), fault.clone());
    let batcher = Batcher::new(batch_rows, may_cut, emit);
    let result = match format {
        ImportFormat::Csv => read_csv(input, lines.unwrap_or_default(), batcher),
        ImportFormat::Json => read_json(input, batcher),
    };
    // What the checking reader refused is the reason, whatever the parser made of it.
    match fault.borrow_mut().take() {
        Some(message) => Err(message),
        None => result,
    }
}

fn column_name(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace([' ', '-'], "_")
}

fn read_csv(
    input: impl Read,
    lines: Rc<RefCell<Lines>>,
    mut batcher: Batcher<impl Fn(&Row, &Row) -> bool, impl FnMut(Batch) -> bool>,
) -> Result<(), String> {
    let mut r = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let headers: Vec<String> = r
        .headers()
        .map_err(|e| format!("the header row cannot be read: {e}"))?
        .iter()
        .map(column_name)
        .collect();
    let mut record = csv::StringRecord::new();
    loop {
        match r.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                // A record's start position lies before the blank lines
                // skipped to reach it, so count from its end: the reader
                // stands just past its line feed (LF) or on it (CR LF), and
                // the line feeds inside quoted cells are the record's own.
                let end = r.position().byte().saturating_sub(2);
                let inside: usize = record.iter().map(|c| c.matches('\n').count()).sum();
                let line = lines.borrow_mut().line_at(end).saturating_sub(inside);
                if record.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                let cells = headers
                    .iter()
                    .zip(record.iter())
                    .filter(|(_, v)| !v.trim().is_empty())
                    .map(|(h, v)| (h.clone(), v.trim().to_owned()))
                    .collect();
                if !batcher.push(Row { line, cells }, |_| headers.clone()) {
                    return Ok(());
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.borrow_mut().line_at(p.byte()));
                return Err(match e.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("line {line}: {len} cells where the header has {expected_len}")
                    }
                    _ => format!("line {line}: {e}"),
                });
            }
        }
    }
    batcher.finish(|_| headers.clone());
    Ok(())
}

/// The columns a batch of JSON rows uses, in the order they first appear.
fn json_columns(rows: &[Row]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for row in rows {
        let mut keys: Vec<&String> = row.cells.keys().collect();
        keys.sort();
        for k in keys {
            if seen.insert(k) {
                out.push(k.clone());
            }
        }
    }
    out
}

fn read_json(
    input: impl Read,
    batcher: Batcher<impl Fn(&Row, &Row) -> bool, impl FnMut(Batch) -> bool>,
) -> Result<(), String> {
    use serde::de::{Deserializer as _, Error as _, SeqAccess, Visitor};

    /// Takes the array's objects one at a time, never the whole array.
    struct Rows<C, E> {
        batcher: Batcher<C, E>,
        /// Why a row was refused, in the file's own words.
        refused: Option<String>,
    }

    impl<'de, C: Fn(&Row, &Row) -> bool, E: FnMut(Batch) -> bool> Visitor<'de> for &mut Rows<C, E> {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of objects, one per row")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while let Some(item) = seq.next_element::<serde_json::Value>()? {
                i += 1;
                let serde_json::Value::Object(obj) = item else {
                    self.refused = Some(format!("row {i}: not an object"));
                    return Err(A::Error::custom("not an object"));
                };
                let mut cells = HashMap::new();
                for (k, v) in obj {
                    let text = match v {
                        serde_json::Value::Null => continue,
                        serde_json::Value::String(s) => s.trim().to_owned(),
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Bool(b) => b.to_string(),
                        _ => {
                            self.refused = Some(format!("row {i}: `{k}` must be a string, number or boolean"));
                            return Err(A::Error::custom("not a value"));
                        }
                    };
                    if !text.is_empty() {
                        cells.insert(column_name(&k), text);
                    }
                }
                if !self.batcher.push(Row { line: i, cells }, json_columns) {
                    return Ok(());
                }
            }
            Ok(())
        }
    }

    let mut rows = Rows { batcher, refused: None };
    let mut de = serde_json::Deserializer::from_reader(input);
    let read = (&mut de).deserialize_seq(&mut rows).and_then(|()| de.end());
    if let Some(why) = rows.refused.take() {
        return Err(why);
    }
    match read {
        Ok(()) => {
            rows.batcher.finish(json_columns);
            Ok(())
        }
        Err(e) if e.is_data() => Err("the JSON file must hold an array of objects, one per row".into()),
        Err(e) => Err(format!("the file is not JSON: {e}")),
    }
}

/// Reads a row's cells, collecting what is wrong with them.
struct Cells<'a> {
    row: &'a Row,
    columns: &'a HashSet<String>,
    problems: Vec<String>,
}

impl<'a> Cells<'a> {
    fn new(row: &'a Row, columns: &'a HashSet<String>) -> Self {
        Self {
            row,
            columns,
            problems: Vec::new(),
        }
    }

    /// An optional column: `None` when the file does not have it (the
    /// field is left as it is), `Some(None)` when the cell is empty.
    fn field(&mut self, col: &str, max: usize) -> Option<Option<String>> {
        self.columns.contains(col).then(|| self.opt(col, max))
    }

    fn problem(&mut self, col: &str, msg: impl std::fmt::Display) {
        self.problems.push(format!("{col}: {msg}"));
    }

    fn opt(&mut self, col: &str, max: usize) -> Option<String> {
        let v = self.row.cells.get(col)?;
        if v.chars().count() > max {
            self.problem(col, format_args!("longer than {max} characters"));
            return None;
        }
        Some(v.clone())
    }

    fn req(&mut self, col: &str, max: usize) -> String {
        if !self.row.cells.contains_key(col) {
            self.problem(col, "is empty");
        }
        self.opt(col, max).unwrap_or_default()
    }

    fn int(&mut self, col: &str) -> Option<i64> {
        let v = self.row.cells.get(col)?;
        match v.replace(',', "").parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.problem(col, format_args!("`{v}` is not a whole number"));
                None
            }
        }
    }

    fn req_int(&mut self, col: &str) -> i64 {
        if !self.row.cells.contains_key(col) {
            self.problem(col, "is empty");
        }
        self.int(col).unwrap_or_default()
    }

    fn flag(&mut self, col: &str) -> Option<bool> {
        let v = self.row.cells.get(col)?;
        match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "y" | "○" | "◯" => Some(true),
            "0" | "false" | "no" | "n" | "×" => Some(false),
            _ => {
                self.problem(col, format_args!("`{v}` is not true/false (or 1/0)"));
                None
            }
        }
    }

    fn date(&mut self, col: &str) -> Option<NaiveDate> {
        if !self.row.cells.contains_key(col) {
            self.problem(col, "is empty");
            return None;
        }
        let v = self.row.cells[col].replace('/', "-");
        match NaiveDate::parse_from_str(&v, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                self.problem(col, format_args!("`{v}` is not a date (YYYY-MM-DD)"));
                None
            }
        }
    }

    /// RFC 3339, or a local date and time (or a date) in the company's zone.
    fn instant(&mut self, col: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
        if !self.row.cells.contains_key(col) {
            self.problem(col, "is empty");
            return None;
        }
        let raw = self.row.cells[col].clone();
        if let Ok(t) = DateTime::parse_from_rfc3339(&raw) {
            return Some(t.with_timezone(&Utc));
        }
        let v = raw.replace('/', "-").replace('T', " ");
        let local = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(&v, f).ok())
            .or_else(|| {
                NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            });
        match local.and_then(|t| tz.from_local_datetime(&t).earliest()) {
            Some(t) => Some(t.with_timezone(&Utc)),
            None => {
                self.problem(
                    col,
                    format_args!("`{raw}` is not a time (YYYY-MM-DD HH:MM, or RFC 3339)"),
                );
                None
            }
        }
    }

    /// The id `map` holds for the code in `col` (`what` names the record
    /// in the message when there is none); `None` for an empty cell too.
    fn lookup(&mut self, col: &str, map: &HashMap<String, Uuid>, what: &str) -> Option<Uuid> {
        let code = self.row.cells.get(col)?;
        match map.get(code) {
            Some(id) => Some(*id),
            None => {
                self.problem(col, format_args!("no {what} has the code `{code}`"));
                None
            }
        }
    }

    /// The id `map` holds for `name` (a team by its name); a problem when none.
    fn lookup_name(&mut self, name: &str, map: &HashMap<String, Uuid>, what: &str) -> Option<Uuid> {
        let found = map.get(name).copied();
        if found.is_none() {
            self.problem(what, format_args!("no {what} is named `{name}`"));
        }
        found
    }

    /// The member whose e-mail is in `col`.
    fn member(&mut self, col: &str, members: &HashMap<String, Uuid>) -> Option<Uuid> {
        let email = self.opt(col, 320)?;
        match members.get(&email.to_lowercase()) {
            Some(id) => Some(*id),
            None => {
                self.problem(col, format_args!("no member has the e-mail `{email}`"));
                None
            }
        }
    }

    fn done(self) -> Result<(), String> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(self.problems.join("; "))
        }
    }
}

/// What to write: new rows, changed rows, and how many were already so.
struct Plan<M> {
    creates: Vec<M>,
    updates: Vec<M>,
    unchanged: usize,
}

impl<M: PartialEq> Plan<M> {
    fn new() -> Self {
        Self {
            creates: Vec::new(),
            updates: Vec::new(),
            unchanged: 0,
        }
    }

    /// `desired` is `existing` with the file's values written over it, or a
    /// new row. Returns whether it is a change to an existing row.
    fn add(&mut self, existing: Option<&M>, desired: M) -> bool {
        match existing {
            Some(e) if *e == desired => {
                self.unchanged += 1;
                false
            }
            Some(_) => {
                self.updates.push(desired);
                true
            }
            None => {
                self.creates.push(desired);
                false
            }
        }
    }
}

/// The company's rows whose `key` column is one of `keys`, by that key
/// (`key_of` reads it from a row).
async fn existing<E: Scoped>(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    key: E::Column,
    keys: &[&str],
    key_of: impl Fn(&E::Model) -> Option<String>,
) -> AppResult<HashMap<String, E::Model>> {
    let mut out = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(LOOKUP_CHUNK) {
        let rows = E::find()
            .filter(E::company_col().eq(company_id))
            .filter(key.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        out.extend(rows.into_iter().filter_map(|m| key_of(&m).map(|k| (k, m))));
    }
    Ok(out)
}

/// Live customers by code, for rows that point at one.
async fn customer_ids(db: &impl ConnectionTrait, actor: &Actor, rows: &[Row]) -> AppResult<HashMap<String, Uuid>> {
    let codes: Vec<&str> = unique(rows.iter().filter_map(|r| r.cells.get("customer_code")));
    let mut out = HashMap::with_capacity(codes.len());
    for chunk in codes.chunks(LOOKUP_CHUNK) {
        let found: Vec<(Option<String>, Uuid)> = customer::Entity::find()
            .select_only()
            .columns([customer::Column::ExternalCode, customer::Column::Id])
            .filter(customer::Column::CompanyId.eq(actor.company_id))
            .filter(customer::Column::DeletedAt.is_null())
            .filter(customer::Column::ExternalCode.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(found.into_iter().filter_map(|(code, id)| code.map(|c| (c, id))));
    }
    Ok(out)
}

/// The company's members by lower-cased e-mail.
async fn member_ids(db: &impl ConnectionTrait, actor: &Actor) -> AppResult<HashMap<String, Uuid>> {
    let rows: Vec<(String, Uuid)> = member::Entity::find()
        .select_only()
        .columns([member::Column::Email, member::Column::Id])
        .filter(member::Column::CompanyId.eq(actor.company_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(e, id)| (e.to_lowercase(), id)).collect())
}

fn unique<'a>(values: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    values.map(String::as_str).filter(|v| seen.insert(*v)).collect()
}

/// Checks the header: every required column there, none unknown.
fn check_header(kind: ImportKind, headers: &[String]) -> Result<(), String> {
    let (required, optional) = kind.columns();
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| !headers.iter().any(|h| h == c))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing column(s): {}", missing.join(", ")));
    }
    if let Some(h) = headers
        .iter()
        .find(|h| !required.contains(&h.as_str()) && !optional.contains(&h.as_str()))
    {
        let all: Vec<&str> = required.iter().chain(optional).copied().collect();
        return Err(format!("unknown column `{h}` (columns: {})", all.join(", ")));
    }
    Ok(())
}

/// A key of a row in 128 bits, so that remembering every key of a file
/// (to find the same one twice) costs 16 bytes a row, not the key's text.
fn key_hash(key: &str) -> u128 {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut h = std::hash::DefaultHasher::new();
        (salt, key).hash(&mut h);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

/// What an import carries from one batch to the next.
#[derive(Default)]
struct Pass {
    /// Each key met so far, with its line (the same key again is an error).
    keys: HashMap<u128, usize>,
    /// The deals whose stage history earlier batches held: a deal's rows
    /// must follow each other, or its history would be cut in two.
    earlier_deals: HashSet<u128>,
    /// Customers and deals whose last contact to recompute once, at the end.
    customers: HashSet<Uuid>,
    deals: HashSet<Uuid>,
    /// Rows written so far, and as of the last statistics refresh.
    written: usize,
    analyzed_at: usize,
}

impl ImportKind {
    /// The tables a file of this kind writes to.
    fn tables(self) -> &'static [&'static str] {
        match self {
            Self::Customers => &["customer"],
            Self::Contacts => &["contact"],
            Self::Products => &["product"],
            Self::SalesRecords => &["sales_record"],
            Self::Touchpoints => &["touchpoint"],
            Self::Deals => &["deal", "deal_stage_history", "deal_member"],
            Self::DealStageHistory => &["deal_stage_history"],
            Self::Teams => &["team"],
            Self::Members => &["member"],
            Self::Targets => &["target"],
            Self::Activities => &["activity", "activity_contact", "activity_product", "activity_reaction"],
            Self::Tasks => &["task"],
        }
    }
}

/// On PostgreSQL, refreshes the statistics of the tables an import writes
/// each time the rows it wrote have doubled. A large first import fills
/// tables the planner last saw empty: without this, each batch's lookup by
/// code became a sequential scan with a thousand-value list tested per row
/// (100,000 customers took 308 s). ANALYZE inside the transaction counts
/// the transaction's own rows.
async fn refresh_statistics(db: &impl ConnectionTrait, kind: ImportKind, pass: &mut Pass) -> AppResult<()> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres
        || pass.written < 2 * pass.analyzed_at.max(BATCH_ROWS / 2)
    {
        return Ok(());
    }
    pass.analyzed_at = pass.written;
    for table in kind.tables() {
        db.execute_unprepared(&format!("ANALYZE {table}")).await?;
    }
    Ok(())
}

/// Whether a file of `kind` may be cut into batches between rows `a` and `b`.
fn may_cut(kind: ImportKind, a: &Row, b: &Row) -> bool {
    match kind {
        // A deal's history is checked as a whole.
        ImportKind::DealStageHistory => a.cells.get("deal_code") != b.cells.get("deal_code"),
        // A team's parent may come later in the file, and targets are keyed
        // by several columns: both are the size of the organisation, read whole.
        ImportKind::Teams | ImportKind::Targets => false,
        _ => true,
    }
}

/// Imports a file as `kind`, `BATCH_ROWS` rows at a time. Bad input is
/// reported, not raised: the `Err` cases are the caller's rights and the
/// database.
pub async fn run<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    kind: ImportKind,
    format: ImportFormat,
    source: &Source,
    opts: Options,
) -> AppResult<Report> {
    run_in_batches(db, actor, kind, format, source, opts, BATCH_ROWS).await
}

/// [`run`] with batches of `batch_rows` rows (tests cut small files into
/// many batches with it).
pub async fn run_in_batches<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    kind: ImportKind,
    format: ImportFormat,
    source: &Source,
    opts: Options,
    batch_rows: usize,
) -> AppResult<Report> {
    actor.require_admin("import data")?;
    // The file is parsed on a blocking thread, one batch ahead of the writes.
    let (tx, mut batches) = tokio::sync::mpsc::channel::<Result<Batch, String>>(1);
    let source = source.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let read = source.open().and_then(|input| {
            read_rows(
                input,
                format,
                batch_rows,
                |a, b| may_cut(kind, a, b),
                |batch| tx.blocking_send(Ok(batch)).is_ok(),
            )
        });
        if let Err(message) = read {
            let _ = tx.blocking_send(Err(message));
        }
    });
    // Batches are written inside a savepoint, so that a bad row found late
    // in the file undoes the batches written before it.
    let txn = if opts.dry_run { None } else { Some(db.begin().await?) };
    let mut report = Report::new(kind, opts);
    let mut pass = Pass::default();
    while let Some(batch) = batches.recv().await {
        let checked = match batch {
            Ok(batch) => {
                let write = txn.is_some() && (report.error_count == 0 || opts.skip_bad_rows);
                match &txn {
                    Some(txn) => one_batch(txn, actor, kind, batch, write, &mut pass, &mut report).await?,
                    None => one_batch(db, actor, kind, batch, false, &mut pass, &mut report).await?,
                }
            }
            Err(message) => Err(message),
        };
        if let Err(message) = checked {
            // The file cannot be read to its end: nothing of it is imported.
            drop(batches);
            let _ = reader.await;
            let mut report = Report::new(kind, opts);
            report.error(0, message);
            return Ok(report);
        }
    }
    let _ = reader.await;
    report.errors.sort_by_key(|e| e.line);
    if report.error_count > 0 {
        if !opts.skip_bad_rows {
            report.created = 0;
            report.updated = 0;
            report.unchanged = 0;
            // Dropping the savepoint rolls back the batches written before the first bad row.
            return Ok(report);
        }
        report.skipped = report.error_count;
    }
    let Some(txn) = txn else { return Ok(report) };
    if report.created + report.updated == 0 {
        return Ok(report);
    }
    let company_id = actor.company_id;
    last_contact(
        &txn,
        company_id,
        "customer",
        "last_contact_at",
        "customer_id",
        pass.customers,
    )
    .await?;
    last_contact(&txn, company_id, "deal", "last_activity_at", "deal_id", pass.deals).await?;
    let summary = json!({
        "kind": format!("{kind:?}"),
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "skipped": report.skipped,
    });
    audit::record(&txn, actor, "import", &("import", new_id()), None, Some(&summary)).await?;
    txn.commit().await?;
    report.applied = true;
    Ok(report)
}

/// Checks one batch, counts it into the report and, when `write`, writes
/// it. `Err(message)` when the whole file is refused (its header).
async fn one_batch(
    db: &impl ConnectionTrait,
    actor: &Actor,
    kind: ImportKind,
    batch: Batch,
    write: bool,
    pass: &mut Pass,
    report: &mut Report,
) -> AppResult<Result<(), String>> {
    if let Err(message) = check_header(kind, &batch.columns) {
        return Ok(Err(message));
    }
    report.rows += batch.rows.len();
    let mut bad: HashSet<usize> = HashSet::new();
    // A key twice in one file: the second is an error (which one wins is not guessable).
    if let Some(key_col) = kind.unique_key() {
        for r in &batch.rows {
            if let Some(k) = r.cells.get(key_col)
                && let Some(first) = pass.keys.insert(key_hash(k), r.line)
            {
                report.error(
                    r.line,
                    format!("{key_col}: `{k}` appears again (first on line {first})"),
                );
                bad.insert(r.line);
            }
        }
    }
    if kind == ImportKind::DealStageHistory {
        let mut here = HashSet::new();
        for r in &batch.rows {
            let Some(code) = r.cells.get("deal_code") else { continue };
            let key = key_hash(code);
            if pass.earlier_deals.contains(&key) {
                report.error(
                    r.line,
                    format!(
                        "deal_code: the rows of deal `{code}` must follow each other in a long file \
                         (sort it by deal_code, then changed_at)"
                    ),
                );
                bad.insert(r.line);
            }
            here.insert(key);
        }
        pass.earlier_deals.extend(here);
    }
    let file = File {
        columns: batch.columns.into_iter().collect(),
        rows: batch.rows.into_iter().filter(|r| !bad.contains(&r.line)).collect(),
    };
    let writes = match kind {
        ImportKind::Customers => customers(db, actor, &file, report).await?,
        ImportKind::Contacts => contacts(db, actor, &file, report).await?,
        ImportKind::Products => products(db, actor, &file, report).await?,
        ImportKind::SalesRecords => sales_records(db, actor, &file, report).await?,
        ImportKind::Touchpoints => touchpoints(db, actor, &file, report).await?,
        ImportKind::Deals => deals(db, actor, &file, report).await?,
        ImportKind::DealStageHistory => stage_history(db, actor, &file, report).await?,
        ImportKind::Teams => teams(db, actor, &file, report).await?,
        ImportKind::Members => members(db, actor, &file, report).await?,
        ImportKind::Targets => targets(db, actor, &file, report).await?,
        ImportKind::Activities => activities(db, actor, &file, report).await?,
        ImportKind::Tasks => tasks(db, actor, &file, report).await?,
    };
    if write {
        pass.written += file.rows.len();
        writes.apply(db, pass).await?;
        refresh_statistics(db, kind, pass).await?;
    }
    Ok(Ok(()))
}

/// The writes of one import, of whichever kind.
enum Writes {
    Customers(Plan<customer::Model>),
    Contacts(Plan<contact::Model>),
    Products(Plan<product::Model>),
    SalesRecords(Plan<sales_record::Model>),
    Touchpoints(Plan<touchpoint::Model>),
    Deals(Plan<deal::Model>, DealRows),
    History(History),
    Teams(Plan<team::Model>),
    Members(Plan<member::Model>),
    Targets(Plan<target::Model>),
    Activities(Plan<activity::Model>, ActivityRows),
    Tasks(Plan<task::Model>),
}

/// What an activities import writes beside the activities: their contacts,
/// products and reactions (replaced for each activity written), and the
/// customers and deals whose last contact to recompute.
#[derive(Default)]
struct ActivityRows {
    written: Vec<Uuid>,
    contacts: Vec<activity_contact::Model>,
    products: Vec<activity_product::Model>,
    reactions: Vec<activity_reaction::Model>,
    customers: HashSet<Uuid>,
    deals: HashSet<Uuid>,
}

/// What a deals import writes beside the deals: the first stage of each new
/// deal in its history, its owner as a member, and a move for each deal
/// whose stage the file changes.
#[derive(Default)]
struct DealRows {
    history: Vec<deal_stage_history::Model>,
    members: Vec<deal_member::Model>,
}

/// A stage-history import: the deals whose history is replaced, their new
/// rows, and when each entered the stage it is in.
#[derive(Default)]
struct History {
    company_id: Uuid,
    replaced: Vec<Uuid>,
    rows: Vec<deal_stage_history::Model>,
    entered: Vec<(Uuid, DateTime<Utc>)>,
}

impl Writes {
    async fn apply(self, db: &impl ConnectionTrait, pass: &mut Pass) -> AppResult<()> {
        match self {
            Self::Customers(p) => write::<customer::Entity, customer::ActiveModel>(db, p).await,
            Self::Contacts(p) => write::<contact::Entity, contact::ActiveModel>(db, p).await,
            Self::Products(p) => write::<product::Entity, product::ActiveModel>(db, p).await,
            Self::SalesRecords(p) => write::<sales_record::Entity, sales_record::ActiveModel>(db, p).await,
            Self::Touchpoints(p) => write::<touchpoint::Entity, touchpoint::ActiveModel>(db, p).await,
            Self::Deals(p, rows) => {
                write::<deal::Entity, deal::ActiveModel>(db, p).await?;
                insert_all::<deal_stage_history::Entity, deal_stage_history::ActiveModel>(db, rows.history).await?;
                insert_all::<deal_member::Entity, deal_member::ActiveModel>(db, rows.members).await
            }
            Self::Teams(p) => write::<team::Entity, team::ActiveModel>(db, p).await,
            Self::Members(p) => write::<member::Entity, member::ActiveModel>(db, p).await,
            Self::Targets(p) => write::<target::Entity, target::ActiveModel>(db, p).await,
            Self::Tasks(p) => write::<task::Entity, task::ActiveModel>(db, p).await,
            Self::Activities(p, rows) => {
                write::<activity::Entity, activity::ActiveModel>(db, p).await?;
                for chunk in rows.written.chunks(LOOKUP_CHUNK) {
                    let ids = || chunk.iter().copied();
                    activity_contact::Entity::delete_many()
                        .filter(activity_contact::Column::ActivityId.is_in(ids()))
                        .exec(db)
                        .await?;
                    activity_product::Entity::delete_many()
                        .filter(activity_product::Column::ActivityId.is_in(ids()))
                        .exec(db)
                        .await?;
                    activity_reaction::Entity::delete_many()
                        .filter(activity_reaction::Column::ActivityId.is_in(ids()))
                        .exec(db)
                        .await?;
                }
                insert_all::<activity_contact::Entity, activity_contact::ActiveModel>(db, rows.contacts).await?;
                insert_all::<activity_product::Entity, activity_product::ActiveModel>(db, rows.products).await?;
                insert_all::<activity_reaction::Entity, activity_reaction::ActiveModel>(db, rows.reactions).await?;
                // Recomputed once after the last batch: a customer is in many.
                pass.customers.extend(rows.customers);
                pass.deals.extend(rows.deals);
                Ok(())
            }
            Self::History(h) => {
                for chunk in h.replaced.chunks(LOOKUP_CHUNK) {
                    deal_stage_history::Entity::delete_many()
                        .filter(deal_stage_history::Column::DealId.is_in(chunk.iter().copied()))
                        .exec(db)
                        .await?;
                }
                insert_all::<deal_stage_history::Entity, deal_stage_history::ActiveModel>(db, h.rows).await?;
                stage_entered(db, h.company_id, h.entered).await
            }
        }
    }
}

async fn write<E, A>(db: &impl ConnectionTrait, plan: Plan<E::Model>) -> AppResult<()>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + sea_orm::ActiveModelBehavior + Send,
    E::Model: IntoActiveModel<A>,
{
    let per_statement = (MAX_PARAMS / E::Column::iter().count()).max(1);
    let mut creates = plan.creates.into_iter().peekable();
    while creates.peek().is_some() {
        let chunk: Vec<A> = creates
            .by_ref()
            .take(per_statement)
            .map(|m| m.into_active_model().reset_all())
            .collect();
        E::insert_many(chunk).exec_without_returning(db).await?;
    }
    for m in plan.updates {
        m.into_active_model().reset_all().update(db).await?;
    }
    Ok(())
}

/// Inserts new rows, as many per statement as the bound values allow.
async fn insert_all<E, A>(db: &impl ConnectionTrait, rows: Vec<E::Model>) -> AppResult<()>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + sea_orm::ActiveModelBehavior + Send,
    E::Model: IntoActiveModel<A>,
{
    write::<E, A>(
        db,
        Plan {
            creates: rows,
            updates: Vec::new(),
            unchanged: 0,
        },
    )
    .await
}

/// Counts a planned row into the report.
fn count<M: PartialEq>(plan: &mut Plan<M>, report: &mut Report, existing: Option<&M>, desired: M) {
    let is_new = existing.is_none();
    if plan.add(existing, desired) {
        report.updated += 1;
    } else if is_new {
        report.created += 1;
    } else {
        report.unchanged += 1;
    }
}

async fn customers(db: &impl ConnectionTrait, actor: &Actor, file: &File, report: &mut Report) -> AppResult<Writes> {
    let codes = unique(file.rows.iter().filter_map(|r| r.cells.get("code")));
    let found = existing::<customer::Entity>(db, actor.company_id, customer::Column::ExternalCode, &codes, |c| {
        c.external_code.clone()
    })
    .await?;
    let members = member_ids(db, actor).await?;
    let t = now();
    let mut plan = Plan::new();
    for r in &file.rows {
        let mut c = Cells::new(r, &file.columns);
        let code = c.req("code", 64);
        let name = c.req("name", 200);
        let name_kana = c.field("name_kana", 200);
        let industry = c.field("industry", 100);
        let address = c.field("address", 500);
        let phone = c.field("phone", 50);
        let website = c.field("website", 500).map(|v| {
            super::validate::opt_web_url("website", v, 500).unwrap_or_else(|e| {
                c.problem("website", e.message());
                None
            })
        });
        let priority = c.flag("priority");
        let owner = c.member("owner_email", &members);
        let before = found.get(&code);
        if before.is_some_and(|b| b.deleted_at.is_some()) {
            c.problem(
                "code",
                format_args!("customer `{code}` was deleted here; restore it or give it a new code"),
            );
        }
        if let Err(msg) = c.done() {
            report.error(r.line, msg);
            continue;
        }
        let mut m = before.cloned().unwrap_or_else(|| customer::Model {
            id: new_id(),
            company_id: actor.company_id,
            group_id: None,
            owner_id: actor.member_id,
            name: String::new(),
            name_kana: None,
            external_code: Some(code.clone()),
            is_priority: false,
            status: CustomerStatus::Prospect,
            industry: None,
            address: None,
            phone: None,
            website: None,
            custom_fields: json!({}),
            last_contact_at: None,
            version: 1,
            created_at: t,
            updated_at: t,
            deleted_at: None,
        });
        m.name = name;
        for (field, value) in [
            (&mut m.name_kana, name_kana),
            (&mut m.industry, industry),
            (&mut m.address, address),
            (&mut m.phone, phone),
            (&mut m.website, website),
        ] {
            if let Some(v) = value {
                *field = v;
            }
        }
        if let Some(p) = priority {
            m.is_priority = p;
        }
        if let Some(o) = owner {
            m.owner_id = o;
        }
        if before.is_some_and(|b| *b != m) {
            m.version += 1;
            m.updated_at = t;
        }
        count(&mut plan, report, before, m);
    }
    Ok(Writes::Customers(plan))
}

async fn contacts(db: &impl ConnectionTrait, actor: &Actor, file: &File, report: &mut Report) -> AppResult<Writes> {
    let codes = unique(file.rows.iter().filter_map(|r| r.cells.get("code")));
    let found = existing::<contact::Entity>(db, actor.company_id, contact::Column::ExternalCode, &codes, |c| {
        c.external_code.clone()
    })
    .await?;
    let customers = customer_ids(db, actor, &file.rows).await?;
    let t = now();
    let mut plan = Plan::new();
    for r in &file.rows {
        let mut c = Cells::new(r, &file.columns);
        let code = c.req("code", 64);
        c.req("customer_code", 64);
        let name = c.req("name", 200);
        let name_kana = c.field("name_kana", 200);
        let department = c.field("department", 200);
        let title = c.field("title", 200);
        let email = c.field("email", 320);
        let phone = c.field("phone", 50);
        // Without the column, a contact keeps its level; a new one gets the first.
        let level = match c.field("level", 64) {
            None if found.contains_key(&code) => None,
            cell => match super::customer::contact_level(actor, cell.flatten().as_deref()) {
                Ok(l) => Some(l),
                Err(e) => {
                    c.problems.push(e.public_message());
                    None
                }
            },
        };
        let customer_id = c.lookup("customer_code", &customers, "customer");
        let before = found.get(&code);
        if before.is_some_and(|b| b.deleted_at.is_some()) {
            c.problem(
                "code",
                format_args!("contact `{code}` was deleted here; give it a new code"),
            );
        }
        if let Err(msg) = c.done() {
            report.error(r.line, msg);
            continue;
        }
        let mut m = before.cloned().unwrap_or_else(|| contact::Model {
            id: new_id(),
            company_id: actor.company_id,
            customer_id: Uuid::nil(),
            name: String::new(),
            name_kana: None,
            department: None,
            title: None,
            level: String::new(),
            email: None,
            phone: None,
            external_code: Some(code.clone()),
            version: 1,
            created_at: t,
            updated_at: t,
            deleted_at: None,
        });
        m.customer_id = customer_id.unwrap_or_default();
        m.name = name;
        for (field, value) in [
            (&mut m.name_kana, name_kana),
            (&mut m.department, department),
            (&mut m.title, title),
            (&mut m.email, email),
            (&mut m.phone, phone),
        ] {
            if let Some(v) = value {
                *field = v;
            }
        }
        if let Some(l) = level {
            m.level = l;
        }
        if before.is_some_and(|b| *b != m) {
            m.version += 1;
            m.updated_at = t;
        }
        count(&mut plan, report, before, m);
    }
    Ok(Writes::Contacts(plan))
}

async fn products(db: &impl ConnectionTrait, actor: &Actor, file: &File, report: &mut Report) -> AppResult<Writes> {
    let codes = unique(file.rows.iter().filter_map(|r| r.cells.get("code")));
    let found =
        existing::<product::Entity>(db, actor.company_id, product::Column::Code, &codes, |p| p.code.clone()).await?;
    let t = now();
    let mut plan = Plan::new();
    for r in &file.rows {
        let mut c = Cells::new(r, &file.columns);
        let code = c.req("code", 64);
        let name = c.req("name", 200);
        let category = c.field("category", 100);
        let unit_price = c.int("unit_price");
        if unit_price.is_some_and(|p| p < 0) {
            c.problem("unit_price", "is negative");
        }
        let focus = c.flag("focus");
        let before = found.get(&code);
        if let Err(msg) = c.done() {
            report.error(r.line, msg);
            continue;
        }
        let mut m = before.cloned().unwrap_or_else(|| product::Model {
            id: new_id(),
            company_id: actor.company_id,
            code: Some(code.clone()),
            name: String::new(),
            category: None,
            is_focus: false,
            unit_price: None,
            created_at: t,
            updated_at: t,
            deleted_at: None,
        });
        m.name = name;
        if let Some(v) = category {
            m.category = v;
        }
        if file.columns.contains("unit_price") {
            m.unit_price = unit_price;
        }
        if let Some(f) = focus {
            m.is_focus = f;
        }
        // A product the master still sells comes back.
        m.deleted_at = None;
        if before.is_some_and(|b| *b != m) {
            m.updated_at = t;
        }
        count(&mut plan, report, before, m);
    }
    Ok(Writes::Products(plan))
}

async fn sales_records(
    db: &impl ConnectionTrait,
    actor: &Actor,
    file: &File,
    report: &mut Report,
) -> AppResult<Writes> {
    let refs = unique(file.rows.iter().filter_map(|r| r.cells.get("ref")));
    let found = existing::<sales_record::Entity>(db, actor.company_id, sales_record::Column::ExternalRef, &refs, |s| {
        Some(s.external_ref.clone())
    })
    .await?;
    let customers = customer_ids(db, actor, &file.rows).await?;
    let members = member_ids(db, actor).await?;
    let product_codes = unique(file.rows.iter().filter_map(|r| r.cells.get("product_code")));
    let products: HashMap<String, Uuid> =
        existing::<product::Entity>(db, actor.company_id, product::Column::Code, &product_codes, |p| {
            p.code.clone()
        })
        .await?
        .into_iter()
        .filter(|(_, p)| p.deleted_at.is_none())
        .map(|(code, p)| (code, p.id))
        .collect();
    let t = now();
    let mut plan = Plan::new();
    for r in &file.rows {
        let mut c = Cells::new(r, &file.columns);
        let key = c.req("ref", 100);
        let sold_on = c.date("sold_on");
        c.req("customer_code", 64);
        let amount = c.req_int("amount");
        let gross_profit = c.req_int("gross_profit");
        let quantity = c.int("quantity").and_then(|q| match i32::try_from(q) {
            Ok(q) => Some(q),
            Err(_) => {
                c.problem("quantity", "is too large");
                None
            }
        });
        let customer_id = c.lookup("customer_code", &customers, "customer");
        let product_id = c.lookup("product_code", &products, "product");
        let member_id = c.member("member_email", &members);
        let before = found.get(&key);
        let problems = std::mem::take(&mut c.problems);
        let (Some(sold_on), true) = (sold_on, problems.is_empty()) else {
            report.error(r.line, problems.join("; "));
            continue;
        };
        let mut m = before.cloned().unwrap_or_else(|| sales_record::Model {
            id: new_id(),
            company_id: actor.company_id,
            customer_id: Uuid::nil(),
            product_id: None,
            member_id: None,
            sold_on,
            amount: 0,
            gross_profit: 0,
            quantity: None,
            external_ref: key.clone(),
            created_at: t,
        });
        m.customer_id = customer_id.unwrap_or_default();
        m.sold_on = sold_on;
        m.amount = amount;
        m.gross_profit = gross_profit;
        // Columns the file does not have leave the record's values alone.
        if file.columns.contains("product_code") {
            m.product_id = product_id;
        }
        if file.columns.contains("member_email") {
            m.member_id = member_id;
        }
        if file.columns.contains("quantity") {
            m.quantity = quantity;
        }
        count(&mut plan, report, before, m);
    }
    Ok(Writes::SalesRecords(plan))
}

async fn touchpoints(db: &impl ConnectionTrait, actor: &Actor, file: &File, report: &mut Report) -> AppResult<Writes> {
    let refs = unique(file.rows.iter().filter_map(|r| r.cells.get("ref")));
    let found = existing::<touchpoint::Entity>(db, actor.company_id, touchpoint::Column::ExternalRef, &refs, |t| {
        t.external_ref.clone()
    })
    .await?;
    let customers = customer_ids(db, actor, &file.rows).await?;
    let contact_codes = unique(file.rows.iter().filter_map(|r| r.cells.get("contact_code")));
    let contacts: HashMap<String, (Uuid, Uuid)> = existing::<contact::Entity>(
        db,
        actor.company_id,
        contact::Column::ExternalCode,
        &contact_codes,
        |c| c.external_code.clone(),
    )
    .await?
    .into_iter()
    .filter(|(_, c)| c.deleted_at.is_none())
    .map(|(code, c)| (code, (c.id, c.customer_id)))
    .collect();
    let t = now();
    let mut plan = Plan::new();
    for r in &file.rows {
        let mut c = Cells::new(r, &file.columns);
        let key = c.req("ref", 100);
        c.req("customer_code", 64);
        let kind = c.req("kind", 64);
        if !kind.is_empty()
            && let Err(e) = super::validate::key("kind", &kind)
        {
            c.problems.push(e.public_message());
        }
        let occurred_at = c.instant("occurred_at", actor.time_zone);
        let title = c.opt("title", 500);
        let url = c.opt("url", 2000);
        let source = c.opt("source", 64);
        let customer_id = c.lookup("customer_code", &customers, "customer");
        let contact_id = c.opt("contact_code", 64).and_then(|code| match contacts.get(&code) {
            Some((id, of)) if Some(*of) == customer_id => Some(*id),
            Some(_) => {
                c.problem(
                    "contact_code",
                    format_args!("contact `{code}` works for another customer"),
                );
                None
            }
            None => {
                c.problem("contact_code", format_args!("no contact has the code `{code}`"));
                None
            }
        });
        let before = found.get(&key);
        let problems = std::mem::take(&mut c.problems);
        let (Some(occurred_at), true) = (occurred_at, problems.is_empty()) else {
            report.error(r.line, problems.join("; "));
            continue;
        };
        let mut details = serde_json::Map::new();
        if let Some(title) = title {
            details.insert("title".into(), title.into());
        }
        if let Some(url) = url {
            details.insert("url".into(), url.into());
        }
        let mut m = before.cloned().unwrap_or_else(|| touchpoint::Model {
            id: new_id(),
            company_id: actor.company_id,
            customer_id: Uuid::nil(),
            contact_id: None,
            kind: String::new(),
            occurred_at,
            details: json!({}),
            source: None,
            external_ref: Some(key.clone()),
            created_at: t,
        });
        m.customer_id = customer_id.unwrap_or_default();
        m.kind = kind;
        m.occurred_at = occurred_at;
        if file.columns.contains("contact_code") {
            m.contact_id = contact_id;
        }
        if file.columns.contains("title") || file.columns.contains("url") {
            m.details = details.into();
        }
        if file.columns.contains("source") {
            m.source = source;
        }
        count(&mut plan, report, before, m);
    }
    Ok(Writes::Touchpoints(plan))
}

/// The stage `col` names, if the company's process has it.
fn stage_cell<'a>(c: &mut Cells<'_>, actor: &'a Actor, col: &str) -> Option<&'a crate::plugins::Stage> {
    let key = c.opt(col, 64)?;
    super::deal::stage_of(actor, &key)
        .map_err(|e| c.problem(col, e.message()))
        .ok()
}

/// A time of the past (or now): refused when it lies in the future.
fn past(c: &mut Cells<'_>, col: &str, tz: chrono_tz::Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let at = c.instant(col, tz)?;
    if at > t + chrono::Duration::minutes(5) {
        c.problem(col, format_args!("`{}` is in the future", c.row.cells[col]));
        return None;
    }
    Some(at)
}

async fn deals(db: &impl ConnectionTrait, actor: &Actor, file: &File, report: &mut Report) -> AppResult<Writes> {
    use crate::plugins::StageOutcome;
    let codes = unique(file.rows.iter().filter_map(|r| r.cells.get("code")));
    let found = existing::<deal::Entity>(db, actor.company_id, deal::Column::ExternalCode, &codes, |d| {
        d.external_code.clone()
    })
    .await?;
    let customers = customer_ids(db, actor, &file.rows).await?;
    let members = member_ids(db, actor).await?;
    let t = now();
    let tz = actor.time_zone;
    let mut plan = Plan::new();
    let mut rows = DealRows::default();
    for r in &file.rows {
        let mut c = Cells::new(r, &file.columns);
        let code = c.req("code", 64);
        let name = c.req("name", 200);
        c.req("customer_code", 64);
        let customer_id = c.lookup("customer_code", &customers, "customer");
        c.req("owner_email", 320);
        let owner = c.member("owner_email", &members);
        if !r.cells.contains_key("stage") {
            c.problem("stage", "is empty");
        }
        let stage = stage_cell(&mut c, actor, "stage");
        let amount = c.int("amount");
        if amount.is_some_and(|a| a < 0) {
            c.problem("amount", "must not be negative");
        }
        let expected_close = r
            .cells
            .contains_key("expected_close")
            .then(|| c.date("expected_close"))
            .flatten();
        let status = match c.opt("status", 16).map(|s| s.to_ascii_lowercase()).as_deref() {
            None => None,
            Some("open") => Some(DealStatus::Open),
            Some("won" | "closed won" | "closed_won") => Some(DealStatus::Won),
            Some("lost" | "closed lost" | "closed_lost") => Some(DealStatus::Lost),
            Some(other) => {
                c.problem("status", format_args!("`{other}` is not open, won or lost"));
                None
            }
        };
        let created_at = r
            .cells
            .contains_key("created_at")
            .then(|| past(&mut c, "created_at", tz, t))
            .flatten();
        let closed_at = r
            .cells
            .contains_key("closed_at")
            .then(|| past(&mut c, "closed_at", tz, t))
            .flatten();
        let lost_reason = c.field("lost_reason", 500);
        let origin = c.field("origin", 64);
        let description = c.field("description", super::validate::LONG_TEXT);
        // The stage decides the status; a status column must agree with it.
        let outcome = stage.map(|s| match s.outcome {
            StageOutcome::Open => DealStatus::Open,
            StageOutcome::Won => DealStatus::Won,
            StageOutcome::Lost => DealStatus::Lost,
        });
        if let (Some(given), Some(by_stage), Some(stage)) = (status, outcome, stage)
            && given != by_stage
        {
            c.problem(
                "status",
                format_args!(
                    "`{}` does not fit the stage `{}`, which is {}",
                    given.as_str(),
                    stage.key,
                    by_stage.as_str()
                ),
            );
        }
        let before = found.get(&code);
        if before.is_some_and(|b| b.deleted_at.is_some()) {
            c.problem(
                "code",
                format_args!("deal `{code}` was deleted here; give it a new code"),
            );
        }
        let created = created_at.or(before.map(|b| b.created_at)).unwrap_or(t);
        let closed = outcome.is_some_and(|o| o != DealStatus::Open);
        let closed_time = closed_at.or(before.and_then(|b| b.closed_at));
        if closed && closed_time.is_none() {
            c.problem("closed_at", "a won or lost deal needs the time it was won or lost");
        }
        if let Some(at) = closed_time
            && closed
            && at < created
        {
            c.problem("closed_at", "is before the deal was created (created_at)");
        }
        if let Err(msg) = c.done() {
            report.error(r.line, msg);
            continue;
        }
        // Each of these missing has been reported as a problem above.
        let (Some(stage), Some(status), Some(customer_id), Some(owner)) = (stage, outcome, customer_id, owner) else {
            continue;
        };
        let closed_at = if closed { closed_time } else { None };
        let mut m = before.cloned().unwrap_or_else(|| deal::Model {
            id: new_id(),
            company_id: actor.company_id,
            customer_id,
            owner_id: owner,
            name: String::new(),
            stage: stage.key.clone(),
            stage_entered_at: created,
            amount: None,
            expected_close_date: None,
            status,
            lost_reason: None,
            origin: None,
            description: None,
            closed_at: None,
            last_activity_at: None,
            quality_maintainer_id: None,
            version: 1,
            created_at: created,
            updated_at: t,
            deleted_at: None,
            external_code: Some(code.clone()),
        });
        m.customer_id = customer_id;
        m.owner_id = owner;
        m.name = name;
        m.status = status;
        m.closed_at = closed_at;
        m.created_at = created;
        if file.columns.contains("amount") {
            m.amount = amount;
        }
        if file.columns.contains("expected_close") {
            m.expected_close_date = expected_close;
        }
        for (field, value) in [
            (&mut m.lost_reason, lost_reason),
            (&mut m.origin, origin),
            (&mut m.description, description),
        ] {
            if let Some(v) = value {
                *field = v;
            }
        }
        let moved_from = (m.stage != stage.key).then(|| m.stage.clone());
        if let Some(from) = moved_from {
            // A move the file records: at the close for a closed deal, else now.
            let at = closed_at.unwrap_or(t);
            m.stage = stage.key.clone();
            m.stage_entered_at = at;
            rows.history.push(deal_stage_history::Model {
                id: new_id(),
                company_id: actor.company_id,
                deal_id: m.id,
                from_stage: Some(from),
                to_stage: m.stage.clone(),
                changed_by: owner,
                changed_at: at,
            });
        }
        if before.is_none() {
            rows.history.push(deal_stage_history::Model {
                id: new_id(),
                company_id: actor.company_id,
                deal_id: m.id,
                from_stage: None,
                to_stage: m.stage.clone(),
                changed_by: owner,
                changed_at: m.stage_entered_at,
            });
            rows.members.push(deal_member::Model {
                deal_id: m.id,
                member_id: owner,
                company_id: actor.company_id,
                role: None,
                added_at: t,
            });
        }
        if before.is_some_and(|b| *b != m) {
            m.version += 1;
            m.updated_at = t;
        }
        count(&mut plan, report, before, m);
    }
    Ok(Writes::Deals(plan, rows))
}

/// One row of a deal's history, checked.
struct Move {
    line: usize,
    from: Option<String>,
    to: String,
    at: DateTime<Utc>,
    by: Option<Uuid>,
}

async fn stage_history(
    db: &impl ConnectionTrait,
    actor: &Actor,
    file: &File,
    report: &mut Report,
) -> AppResult<Writes> {
    let codes = unique(file.rows.iter().filter_map(|r| r.cells.get("deal_code")));
    let found = existing::<deal::Entity>(db, actor.company_id, deal::Column::ExternalCode, &codes, |d| {
        d.external_code.clone()
    })
    .await?;
    let members = member_ids(db, actor).await?;
    let t = now();
    // Each deal's rows in file order, checked one by one.
    let mut by_deal: Vec<(String, Vec<Move>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut bad_deals: HashSet<String> = HashSet::new();
    for r in &file.rows {
        let mut c = Cells::new(r, &file.columns);
        let code = c.req("deal_code", 64);
        let deal = found.get(&code).filter(|d| d.deleted_at.is_none());
        if !code.is_empty() && deal.is_none() {
            c.problem(
                "deal_code",
                format_args!("no deal has the code `{code}` (import the deals first)"),
            );
        }
        if !r.cells.contains_key("to_stage") {
            c.problem("to_stage", "is empty");
        }
        let to = stage_cell(&mut c, actor, "to_stage").map(|s| s.key.clone());
        let from = stage_cell(&mut c, actor, "from_stage").map(|s| s.key.clone());
        let at = past(&mut c, "changed_at", actor.time_zone, t);
        let by = c.member("changed_by_email", &members);
        let slot = *index.entry(code.clone()).or_insert_with(|| {
            by_deal.push((code.clone(), Vec::new()));
            by_deal.len() - 1
        });
        let moves = &by_deal[slot].1;
        if let (Some(at), Some(prev)) = (at, moves.last()) {
            if at < prev.at {
                c.problem(
                    "changed_at",
                    format_args!("goes back in time: before the deal's previous row (line {})", prev.line),
                );
            }
            if let Some(f) = &from
                && *f != prev.to
            {
                c.problem(
                    "from_stage",
                    format_args!(
                        "`{f}` is not where the previous row (line {}) left the deal (`{}`)",
                        prev.line, prev.to
                    ),
                );
            }
        }
        if moves.is_empty()
            && let (Some(at), Some(d)) = (at, deal)
            && at < d.created_at
        {
            c.problem("changed_at", "is before the deal was created (its created_at)");
        }
        let problems = std::mem::take(&mut c.problems);
        match (to, at, problems.is_empty()) {
            (Some(to), Some(at), true) => by_deal[slot].1.push(Move {
                line: r.line,
                from,
                to,
                at,
                by,
            }),
            _ => {
                report.error(r.line, problems.join("; "));
                bad_deals.insert(code);
            }
        }
    }
    let mut out = History {
        company_id: actor.company_id,
        ..History::default()
    };
    let ids: Vec<Uuid> = by_deal
        .iter()
        .filter_map(|(code, _)| found.get(code).map(|d| d.id))
        .collect();
    let mut current: HashMap<Uuid, Vec<deal_stage_history::Model>> = HashMap::new();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let rows = deal_stage_history::Entity::find()
            .filter(deal_stage_history::Column::CompanyId.eq(actor.company_id))
            .filter(deal_stage_history::Column::DealId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        for h in rows {
            current.entry(h.deal_id).or_default().push(h);
        }
    }
    for (code, moves) in by_deal {
        let Some(deal) = found.get(&code) else { continue };
        let Some(last) = moves.last() else { continue };
        if bad_deals.contains(&code) {
            // Part of this deal's history is bad: none of it is imported.
            for m in &moves {
                report.error(
                    m.line,
                    format!("deal_code: another row of deal `{code}` is bad, so its history is left as it was"),
                );
            }
            continue;
        }
        if last.to != deal.stage {
            report.error(
                last.line,
                format!(
                    "to_stage: the deal `{code}` is now in `{}`; its history must end there",
                    deal.stage
                ),
            );
            continue;
        }
        let mut before = current.remove(&deal.id).unwrap_or_default();
        before.sort_by_key(|h| (h.changed_at, h.id));
        let same = before.len() == moves.len()
            && before.iter().zip(&moves).enumerate().all(|(i, (h, m))| {
                let from = if i == 0 {
                    m.from.as_ref()
                } else {
                    Some(&moves[i - 1].to)
                };
                h.to_stage == m.to && h.changed_at == m.at && h.from_stage.as_ref() == from
            });
        if same {
            report.unchanged += moves.len();
            continue;
        }
        report.created += moves.len();
        out.replaced.push(deal.id);
        let mut prev: Option<String> = None;
        for m in &moves {
            out.rows.push(deal_stage_history::Model {
                id: new_id(),
                company_id: actor.company_id,
                deal_id: deal.id,
                // The first row may start mid-way (from a stage the file has no row for).
                from_stage: prev.clone().or_else(|| m.from.clone()),
                to_stage: m.to.clone(),
                changed_by: m.by.unwrap_or(deal.owner_id),
                changed_at: m.at,
            });
            prev = Some(m.to.clone());
        }
        out.entered.push((deal.id, last.at));
    }
    Ok(Writes::History(out))
}

/// The company's live teams by name.
async fn teams_by_name(db: &impl ConnectionTrait, actor: &Actor) -> AppResult<HashMap<String, team::Model>> {
    let rows = team::Entity::find()
        .filter(team::Column::CompanyId.eq(actor.company_id))
        .filter(team::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|t| (t.name.clone(), t)).collect())
}

async fn teams(db: &impl ConnectionTrait, actor: &Actor, file: &File, report: &mut Report) -> AppResult<Writes> {
    let found = teams_by_name(db, actor).await?;
    let people = member::Entity::find()
        .filter(member::Column::CompanyId.eq(actor.company_id))
        .all(db)
        .await?;
    let by_email: HashMap<String, &member::Model> = people.iter().map(|m| (m.email.clone(), m)).collect();
    let t = now();
    // Every team the file names gets its id first, so that a parent may come later in the file.
    let mut ids: HashMap<String, Uuid> = found.iter().map(|(n, t)| (n.clone(), t.id)).collect();
    for r in &file.rows {
        if let Some(name) = r.cells.get("name") {
            ids.entry(name.clone()).or_insert_with(new_id);
        }
    }
    let mut planned: Vec<(usize, Option<&team::Model>, team::Model)> = Vec::new();
    for r in &file.rows {
        let mut c = Cells::new(r, &file.columns);
        let name = c.req("name", 200);
        let parent = c.field("parent", 200).map(|p| {
            p.and_then(|p| match ids.get(&p) {
                Some(id) if p != name => Some(*id),
                Some(_) => {
                    c.problem("parent", "a team cannot be its own parent");
                    None
                }
                None => {
                    c.problem("parent", format_args!("no team is named `{p}`"));
                    None
                }
            })
        });
        let manager = c.field("manager_email", 320).map(|e| {
            e.and_then(|e| match by_email.get(&e.to_lowercase()) {
                Some(m) if m.role == Role::Rep => {
                    c.problem(
                        "manager_email",
                        format_args!("`{e}` is a rep; a team is led by a manager or an admin"),
                    );
                    None
                }
                Some(m) => Some(m.id),
                None => {
                    c.problem("manager_email", format_args!("no member has the e-mail `{e}`"));
                    None
                }
            })
        });
        if let Err(msg) = c.done() {
            report.error(r.line, msg);
            continue;
        }
        let before = found.get(&name);
        let mut m = before.cloned().unwrap_or_else(|| team::Model {
            id: ids[&name],
            company_id: actor.company_id,
            parent_id: None,
            name: name.clone(),
            manager_id: None,
            created_at: t,
            updated_at: t,
            deleted_at: None,
        });
        if let Some(p) = parent {
            m.parent_id = p;
        }
        if let Some(mgr) = manager {
            m.manager_id = mgr;
        }
        if before.is_some_and(|b| *b != m) {
            m.updated_at = t;
        }
        planned.push((r.line, before, m));
    }
    // The hierarchy the import would leave must have no cycle.
    let mut parent_of: HashMap<Uuid, Option<Uuid>> = found.values().map(|t| (t.id, t.parent_id)).collect();
    for (_, _, m) in &planned {
        parent_of.insert(m.id, m.parent_id);
    }
    let mut plan = Plan::new();
    for (line, before, m) in planned {
        let mut seen = HashSet::from([m.id]);
        let mut at = m.parent_id;
        let mut cycle = false;
        while let Some(p) = at {
            if !seen.insert(p) {
                cycle = true;
                break;
            }
            at = parent_of.get(&p).copied().flatten();
        }
        if cycle {
            report.error(line, format!("parent: `{}` would be among its own parents", m.name));
            continue;
        }
        count(&mut plan, report, before, m);
    }
    Ok(Writes::Teams(plan))
}

/// What a member imported without a password has: no password opens it
/// (not a PHC string), until an admin sets one with `resetPassword`.
const NO_PASSWORD: &str = "!imported";

async fn members(db: &impl ConnectionTrait, actor: &Actor, file: &File, report: &mut Report) -> AppResult<Writes> {
    let people = member::Entity::find()
        .filter(member::Column::CompanyId.eq(actor.company_id))
        .all(db)
        .await?;
    let found: HashMap<String, member::Model> = people.into_iter().map(|m| (m.email.clone(), m)).collect();
    let teams: HashMap<String, Uuid> = teams_by_name(db, actor)
        .await?
        .into_iter()
        .map(|(n, t)| (n, t.id))
        .collect();
    let t = now();
    let mut plan = Plan::new();
    for r in &file.rows {
        let mut c = Cells::new(r, &file.columns);
        let raw = c.req("email", 320);
        let email = super::members::email(&raw).unwrap_or_else(|e| {
            if !raw.is_empty() {
                c.problem("email", e.message());
            }
            String::new()
        });
        let name = c.req("name", 200);
        let role = match c.opt("role", 16).map(|s| s.to_ascii_lowercase()).as_deref() {
            None => None,
            Some("rep" | "sales" | "member") => Some(Role::Rep),
            Some("manager") => Some(Role::Manager),
            Some("admin") => Some(Role::Admin),
            Some(other) => {
                c.problem("role", format_args!("`{other}` is not rep, manager or admin"));
                None
            }
        };
        let team = c
            .field("team", 200)
            .map(|name| name.and_then(|n| c.lookup_name(&n, &teams, "team")));
        let active = c.flag("active");
        let before = found.get(&email);
        if before.is_some_and(|b| b.id == actor.member_id)
            && (role.is_some_and(|r| r != Role::Admin) || active == Some(false))
        {
            c.problem(
                "email",
                "this is you: an import does not take away your own admin rights",
            );
        }
        if let Err(msg) = c.done() {
            report.error(r.line, msg);
            continue;
        }
        let mut m = before.cloned().unwrap_or_else(|| member::Model {
            id: new_id(),
            company_id: actor.company_id,
            team_id: None,
            email: email.clone(),
            name: String::new(),
            role: Role::Rep,
            password_hash: NO_PASSWORD.to_owned(),
            active: true,
            token_version: 0,
            created_at: t,
            updated_at: t,
        });
        m.name = name;
        if let Some(role) = role {
            m.role = role;
        }
        if let Some(team) = team {
            m.team_id = team;
        }
        if let Some(active) = active {
            m.active = active;
        }
        if let Some(b) = before
            && *b != m
        {
            // A new role or a deactivation ends the member's sessions.
            if b.role != m.role || b.active != m.active {
                m.token_version += 1;
            }
            m.updated_at = t;
        }
        count(&mut plan, report, before, m);
    }
    Ok(Writes::Members(plan))
}

async fn targets(db: &impl ConnectionTrait, actor: &Actor, file: &File, report: &mut Report) -> AppResult<Writes> {
    let members = member_ids(db, actor).await?;
    let teams: HashMap<String, Uuid> = teams_by_name(db, actor)
        .await?
        .into_iter()
        .map(|(n, t)| (n, t.id))
        .collect();
    let found: Vec<target::Model> = target::Entity::find()
        .filter(target::Column::CompanyId.eq(actor.company_id))
        .all(db)
        .await?;
    type Key = (Option<Uuid>, Option<Uuid>, PeriodKind, NaiveDate, String);
    let key_of =
        |t: &target::Model| -> Key { (t.member_id, t.team_id, t.period_kind, t.period_start, t.metric.clone()) };
    let found: HashMap<Key, target::Model> = found.into_iter().map(|t| (key_of(&t), t)).collect();
    let mut seen: HashMap<Key, usize> = HashMap::new();
    let t = now();
    let mut plan = Plan::new();
    for r in &file.rows {
        let mut c = Cells::new(r, &file.columns);
        let kind = match c.opt("period_kind", 16).map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("month") => Some(PeriodKind::Month),
            Some("day") => Some(PeriodKind::Day),
            Some("week") => Some(PeriodKind::Week),
            Some("quarter") => Some(PeriodKind::Quarter),
            Some("year") => Some(PeriodKind::Year),
            Some(other) => {
                c.problem(
                    "period_kind",
                    format_args!("`{other}` is not day, week, month, quarter or year"),
                );
                None
            }
        };
        let start = c.date("period_start");
        if let (Some(kind), Some(start)) = (kind, start)
            && let Err(e) = super::plan::check_period(kind, start)
        {
            c.problem("period_start", e.message().replace("`periodStart` of", "the start of"));
        }
        let metric = c.req("metric", 64);
        if !metric.is_empty()
            && let Err(e) = super::validate::key("metric", &metric)
        {
            c.problem("metric", e.message());
        }
        let value = c.req_int("value");
        if value < 0 {
            c.problem("value", "must not be negative");
        }
        let member = c.member("member_email", &members);
        let team = c.opt("team", 200).and_then(|n| c.lookup_name(&n, &teams, "team"));
        let has = |col: &str| r.cells.contains_key(col);
        if has("member_email") == has("team") {
            c.problem("member_email", "give exactly one of member_email and team");
        }
        let (Some(kind), Some(start)) = (kind, start) else {
            report.error(r.line, c.problems.join("; "));
            continue;
        };
        let key: Key = (member, team, kind, start, metric.clone());
        if let Some(first) = seen.insert(key.clone(), r.line) {
            c.problem(
                "period_start",
                format_args!("the same target appears again (first on line {first})"),
            );
        }
        if let Err(msg) = c.done() {
            report.error(r.line, msg);
            continue;
        }
        let before = found.get(&key);
        let mut m = before.cloned().unwrap_or_else(|| target::Model {
            id: new_id(),
            company_id: actor.company_id,
            member_id: member,
            team_id: team,
            period_kind: kind,
            period_start: start,
            metric: metric.clone(),
            value,
            created_at: t,
            updated_at: t,
        });
        m.value = value;
        if before.is_some_and(|b| *b != m) {
            m.updated_at = t;
        }
        count(&mut plan, report, before, m);
    }
    Ok(Writes::Targets(plan))
}

/// Sets when each deal entered the stage it is in, 500 deals per statement.
async fn stage_entered(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    entered: Vec<(Uuid, DateTime<Utc>)>,
) -> AppResult<()> {
    for chunk in entered.chunks(500) {
        let mut p = super::sql::Params::new(db.get_database_backend(), company_id);
        let rows: Vec<String> = chunk
            .iter()
            .map(|(id, at)| format!("({}, {})", p.push(*id), p.push(*at)))
            .collect();
        let sql = format!(
            "WITH v(id, at) AS (VALUES {})
             UPDATE deal SET stage_entered_at = (SELECT v.at FROM v WHERE v.id = deal.id)
             WHERE company_id = $1 AND id IN (SELECT id FROM v)",
            rows.join(", ")
        );
        db.execute_raw(p.statement(sql)).await?;
    }
    Ok(())
}

/// Recomputes the last done activity of the customers (or deals) `ids`, a
/// chunk of them per statement.
async fn last_contact(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    table: &str,
    column: &str,
    key: &str,
    ids: HashSet<Uuid>,
) -> AppResult<()> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let mut p = super::sql::Params::new(db.get_database_backend(), company_id);
        let list: Vec<String> = chunk.iter().map(|id| p.push(*id)).collect();
        let sql = format!(
            "UPDATE {table} SET {column} = (SELECT MAX(a.done_at) FROM activity a WHERE a.company_id = $1
               AND a.{key} = {table}.id AND a.status = 'done' AND a.deleted_at IS NULL)
             WHERE company_id = $1 AND id IN ({})",
            list.join(", ")
        );
        db.execute_raw(p.statement(sql)).await?;
    }
    Ok(())
}

/// Codes in one cell, separated by `;` or `|` (several contacts of an activity).
fn codes_in(c: &mut Cells<'_>, col: &str) -> Option<Vec<String>> {
    let cell = c.opt(col, 10_000)?;
    Some(
        cell.split([';', '|'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// The deal `deal_code` names (its id and customer), which must be of `customer` when given.
fn deal_cell(c: &mut Cells<'_>, deals: &HashMap<String, (Uuid, Uuid)>, customer: Option<Uuid>) -> Option<(Uuid, Uuid)> {
    let code = c.opt("deal_code", 64)?;
    let Some(&(id, of)) = deals.get(&code) else {
        c.problem("deal_code", format_args!("no deal has the code `{code}`"));
        return None;
    };
    if customer.is_some_and(|customer| customer != of) {
        c.problem("deal_code", "the deal is of another customer");
    }
    Some((id, of))
}

/// The company's live deals by code, with their customer.
async fn deal_codes(
    db: &impl ConnectionTrait,
    actor: &Actor,
    rows: &[Row],
) -> AppResult<HashMap<String, (Uuid, Uuid)>> {
    let codes = unique(rows.iter().filter_map(|r| r.cells.get("deal_code")));
    Ok(
        existing::<deal::Entity>(db, actor.company_id, deal::Column::ExternalCode, &codes, |d| {
            d.external_code.clone()
        })
        .await?
        .into_iter()
        .filter(|(_, d)| d.deleted_at.is_none())
        .map(|(code, d)| (code, (d.id, d.customer_id)))
        .collect(),
    )
}

/// An activity as the file has it: before and after, its contacts, products and reactions.
type PlannedActivity<'a> = (
    Option<&'a activity::Model>,
    activity::Model,
    Vec<Uuid>,
    Vec<Uuid>,
    Vec<String>,
);

async fn activities(db: &impl ConnectionTrait, actor: &Actor, file: &File, report: &mut Report) -> AppResult<Writes> {
    let refs = unique(file.rows.iter().filter_map(|r| r.cells.get("ref")));
    let found = existing::<activity::Entity>(db, actor.company_id, activity::Column::ExternalRef, &refs, |a| {
        a.external_ref.clone()
    })
    .await?;
    let customers = customer_ids(db, actor, &file.rows).await?;
    let members = member_ids(db, actor).await?;
    let deals = deal_codes(db, actor, &file.rows).await?;
    let mut contact_codes: Vec<String> = Vec::new();
    let mut product_codes: Vec<String> = Vec::new();
    for r in &file.rows {
        for (col, out) in [
            ("contact_codes", &mut contact_codes),
            ("product_codes", &mut product_codes),
        ] {
            if let Some(cell) = r.cells.get(col) {
                out.extend(
                    cell.split([';', '|'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            }
        }
    }
    contact_codes.sort();
    contact_codes.dedup();
    product_codes.sort();
    product_codes.dedup();
    let contact_refs: Vec<&str> = contact_codes.iter().map(String::as_str).collect();
    let contacts = existing::<contact::Entity>(
        db,
        actor.company_id,
        contact::Column::ExternalCode,
        &contact_refs,
        |c| c.external_code.clone(),
    )
    .await?;
    let product_refs: Vec<&str> = product_codes.iter().map(String::as_str).collect();
    let products = existing::<product::Entity>(db, actor.company_id, product::Column::Code, &product_refs, |p| {
        p.code.clone()
    })
    .await?;
    let reactions: HashSet<&str> = actor.plugins.process.reactions.iter().map(|r| r.key.as_str()).collect();
    let t = now();
    let tz = actor.time_zone;
    let mut plan = Plan::new();
    let mut rows = ActivityRows::default();
    // Scored together after the rows are read: one trip to the script thread.
    let mut to_score: Vec<(usize, Map)> = Vec::new();
    let mut planned: Vec<PlannedActivity<'_>> = Vec::new();
    for r in &file.rows {
        let mut c = Cells::new(r, &file.columns);
        let key = c.req("ref", 100);
        c.req("customer_code", 64);
        let customer_id = c.lookup("customer_code", &customers, "customer");
        c.req("member_email", 320);
        let member_id = c.member("member_email", &members);
        let kind = match c.req("kind", 32).to_ascii_lowercase().replace([' ', '-'], "_").as_str() {
            "" => None,
            "visit" | "meeting" => Some(ActivityKind::Visit),
            "call" => Some(ActivityKind::Call),
            "email" => Some(ActivityKind::Email),
            "web_meeting" | "online" => Some(ActivityKind::WebMeeting),
            "seminar" => Some(ActivityKind::Seminar),
            "other" => Some(ActivityKind::Other),
            other => {
                c.problem(
                    "kind",
                    format_args!("`{other}` is not visit, call, email, web_meeting, seminar or other"),
                );
                None
            }
        };
        let scheduled_at = c.instant("scheduled_at", tz);
        let done_at = r
            .cells
            .contains_key("done_at")
            .then(|| past(&mut c, "done_at", tz, t))
            .flatten();
        let status = match c.opt("status", 16).map(|s| s.to_ascii_lowercase()).as_deref() {
            None if done_at.is_some() => Some(ActivityStatus::Done),
            None => Some(ActivityStatus::Planned),
            Some("planned" | "open") => Some(ActivityStatus::Planned),
            Some("done" | "completed") => Some(ActivityStatus::Done),
            Some("cancelled" | "canceled") => Some(ActivityStatus::Cancelled),
            Some(other) => {
                c.problem("status", format_args!("`{other}` is not planned, done or cancelled"));
                None
            }
        };
        let done_at = match (status, done_at, scheduled_at) {
            // A done activity without its time was done when it was scheduled.
            (Some(ActivityStatus::Done), None, Some(s)) => {
                if s > t + chrono::Duration::minutes(5) {
                    c.problem(
                        "scheduled_at",
                        "a done activity cannot lie in the future (give done_at, or status planned)",
                    );
                }
                Some(s)
            }
            (Some(ActivityStatus::Done), d, _) => d,
            (Some(_), Some(_), _) => {
                c.problem("done_at", "only a done activity has a done_at");
                None
            }
            _ => None,
        };
        let subject = c.opt("subject", 200);
        let deal = deal_cell(&mut c, &deals, customer_id);
        let duration = c.int("duration_minutes");
        if duration.is_some_and(|d| !(0..=24 * 60).contains(&d)) {
            c.problem("duration_minutes", "must be 0 to 1440");
        }
        let attendees = c.int("attendees").unwrap_or(1);
        if !(1..=10_000).contains(&attendees) {
            c.problem("attendees", "must be 1 to 10000");
        }
        let notes = c.opt("notes", super::validate::LONG_TEXT);
        let outcome = c.opt("outcome", 2000);
        let met: Vec<&contact::Model> = codes_in(&mut c, "contact_codes")
            .unwrap_or_default()
            .iter()
            .filter_map(|code| match contacts.get(code).filter(|k| k.deleted_at.is_none()) {
                Some(k) => Some(k),
                None => {
                    c.problem("contact_codes", format_args!("no contact has the code `{code}`"));
                    None
                }
            })
            .collect();
        if let Some(customer) = customer_id
            && met.iter().any(|k| k.customer_id != customer)
        {
            c.problem("contact_codes", "a contact of another customer");
        }
        let shown: Vec<Uuid> = codes_in(&mut c, "product_codes")
            .unwrap_or_default()
            .iter()
            .filter_map(|code| match products.get(code).filter(|p| p.deleted_at.is_none()) {
                Some(p) => Some(p.id),
                None => {
                    c.problem("product_codes", format_args!("no product has the code `{code}`"));
                    None
                }
            })
            .collect();
        let reacted = codes_in(&mut c, "reactions").unwrap_or_default();
        for reaction in &reacted {
            if !reactions.contains(reaction.as_str()) {
                let keys: Vec<&str> = actor.plugins.process.reactions.iter().map(|r| r.key.as_str()).collect();
                c.problem(
                    "reactions",
                    format_args!(
                        "`{reaction}` is not a reaction of the company's process ({})",
                        keys.join(", ")
                    ),
                );
            }
        }
        let before = found.get(&key);
        if before.is_some_and(|b| b.deleted_at.is_some()) {
            c.problem(
                "ref",
                format_args!("activity `{key}` was deleted here; give it a new ref"),
            );
        }
        let met_ids: Vec<Uuid> = met.iter().map(|k| k.id).collect();
        let met_levels: Vec<(String, Option<String>)> =
            met.iter().map(|k| (k.level.clone(), k.department.clone())).collect();
        if let Err(msg) = c.done() {
            report.error(r.line, msg);
            continue;
        }
        let (Some(customer_id), Some(member_id), Some(kind), Some(status), Some(scheduled_at)) =
            (customer_id, member_id, kind, status, scheduled_at)
        else {
            continue;
        };
        let mut m = before.cloned().unwrap_or_else(|| activity::Model {
            id: new_id(),
            company_id: actor.company_id,
            member_id,
            customer_id,
            deal_id: None,
            daily_report_id: None,
            kind,
            status,
            subject: String::new(),
            scheduled_at,
            done_at: None,
            duration_minutes: None,
            attendee_count: 1,
            notes: None,
            outcome: None,
            energy_points: None,
            energy_version: None,
            version: 1,
            created_at: t,
            updated_at: t,
            deleted_at: None,
            external_ref: Some(key.clone()),
        });
        m.member_id = member_id;
        m.customer_id = customer_id;
        m.deal_id = deal.map(|d| d.0);
        m.kind = kind;
        m.status = status;
        m.subject = subject.unwrap_or_else(|| kind.as_str().to_owned());
        m.scheduled_at = scheduled_at;
        m.done_at = done_at;
        m.duration_minutes = duration.map(|d| d as i32);
        m.attendee_count = attendees as i32;
        m.notes = notes;
        m.outcome = outcome;
        if status == ActivityStatus::Done {
            to_score.push((
                planned.len(),
                crate::plugins::activity_input(
                    kind.as_str(),
                    m.attendee_count,
                    m.duration_minutes,
                    &reacted,
                    &met_levels,
                ),
            ));
        } else {
            m.energy_points = None;
            m.energy_version = None;
        }
        planned.push((before, m, met_ids, shown, reacted));
    }
    // Done activities are scored as the company's script scores them; a
    // failing script leaves them unscored (the re-score fills them in later).
    if !to_score.is_empty() {
        let set = actor.plugins.clone();
        let inputs: Vec<Map> = to_score.iter().map(|(_, a)| a.clone()).collect();
        let scored = crate::plugins::run(&actor.scripts, move || {
            Ok(inputs
                .into_iter()
                .map(|a| set.activity_points(a).ok())
                .collect::<Vec<_>>())
        })
        .await?;
        for ((i, _), points) in to_score.iter().zip(scored) {
            let m = &mut planned[*i].1;
            m.energy_points = points;
            m.energy_version = points.map(|_| actor.plugins.scoring_version.clone());
        }
    }
    for (before, mut m, met_ids, shown, reacted) in planned {
        if before.is_some_and(|b| *b == m) {
            count(&mut plan, report, before, m);
            continue;
        }
        if before.is_some() {
            m.version += 1;
            m.updated_at = t;
        }
        rows.written.push(m.id);
        rows.contacts
            .extend(met_ids.into_iter().map(|contact_id| activity_contact::Model {
                activity_id: m.id,
                contact_id,
                company_id: m.company_id,
            }));
        rows.products
            .extend(shown.into_iter().map(|product_id| activity_product::Model {
                activity_id: m.id,
                product_id,
                company_id: m.company_id,
            }));
        rows.reactions
            .extend(reacted.into_iter().map(|reaction| activity_reaction::Model {
                activity_id: m.id,
                reaction,
                company_id: m.company_id,
            }));
        rows.customers.insert(m.customer_id);
        rows.customers.extend(before.map(|b| b.customer_id));
        rows.deals.extend(m.deal_id);
        rows.deals.extend(before.and_then(|b| b.deal_id));
        count(&mut plan, report, before, m);
    }
    Ok(Writes::Activities(plan, rows))
}

async fn tasks(db: &impl ConnectionTrait, actor: &Actor, file: &File, report: &mut Report) -> AppResult<Writes> {
    let refs = unique(file.rows.iter().filter_map(|r| r.cells.get("ref")));
    let found = existing::<task::Entity>(db, actor.company_id, task::Column::ExternalRef, &refs, |k| {
        k.external_ref.clone()
    })
    .await?;
    let customers = customer_ids(db, actor, &file.rows).await?;
    let members = member_ids(db, actor).await?;
    let deals = deal_codes(db, actor, &file.rows).await?;
    let t = now();
    let tz = actor.time_zone;
    let mut plan = Plan::new();
    for r in &file.rows {
        let mut c = Cells::new(r, &file.columns);
        let key = c.req("ref", 100);
        let title = c.req("title", 200);
        c.req("assignee_email", 320);
        let assignee = c.member("assignee_email", &members);
        let status = match c.opt("status", 16).map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("open" | "not started" | "in progress") => Some(TaskStatus::Open),
            Some("done" | "completed") => Some(TaskStatus::Done),
            Some("cancelled" | "canceled") => Some(TaskStatus::Cancelled),
            Some(other) => {
                c.problem("status", format_args!("`{other}` is not open, done or cancelled"));
                None
            }
        };
        let due = r.cells.contains_key("due_date").then(|| c.date("due_date")).flatten();
        let customer_id = c.lookup("customer_code", &customers, "customer");
        let deal = deal_cell(&mut c, &deals, customer_id);
        let customer_id = customer_id.or(deal.map(|d| d.1));
        let kind = match c.opt("kind", 32).map(|s| s.to_ascii_lowercase()).as_deref() {
            None => Some(if customer_id.is_some() {
                TaskKind::CustomerPromise
            } else {
                TaskKind::Internal
            }),
            Some("customer_promise" | "promise") => Some(TaskKind::CustomerPromise),
            Some("internal") => Some(TaskKind::Internal),
            Some(other) => {
                c.problem("kind", format_args!("`{other}` is not customer_promise or internal"));
                None
            }
        };
        let description = c.opt("description", super::validate::LONG_TEXT);
        let completed_at = r
            .cells
            .contains_key("completed_at")
            .then(|| past(&mut c, "completed_at", tz, t))
            .flatten();
        if completed_at.is_some() && status != Some(TaskStatus::Done) {
            c.problem("completed_at", "only a done task has a completed_at");
        }
        let created_at = r
            .cells
            .contains_key("created_at")
            .then(|| past(&mut c, "created_at", tz, t))
            .flatten();
        let before = found.get(&key);
        if before.is_some_and(|b| b.deleted_at.is_some()) {
            c.problem("ref", format_args!("task `{key}` was deleted here; give it a new ref"));
        }
        if let Err(msg) = c.done() {
            report.error(r.line, msg);
            continue;
        }
        let (Some(assignee), Some(status), Some(kind)) = (assignee, status, kind) else {
            continue;
        };
        let created = created_at.or(before.map(|b| b.created_at)).unwrap_or(t);
        let mut m = before.cloned().unwrap_or_else(|| task::Model {
            id: new_id(),
            company_id: actor.company_id,
            title: String::new(),
            description: None,
            kind,
            status,
            assignee_id: assignee,
            creator_id: actor.member_id,
            due_date: None,
            customer_id: None,
            deal_id: None,
            activity_id: None,
            quote_id: None,
            completed_at: None,
            version: 1,
            created_at: created,
            updated_at: t,
            deleted_at: None,
            external_ref: Some(key.clone()),
        });
        m.title = title;
        m.description = description;
        m.kind = kind;
        m.status = status;
        m.assignee_id = assignee;
        m.due_date = due;
        m.customer_id = customer_id;
        m.deal_id = deal.map(|d| d.0);
        m.completed_at = match status {
            TaskStatus::Done => completed_at.or(m.completed_at).or(Some(created)),
            _ => None,
        };
        m.created_at = created;
        if before.is_some_and(|b| *b != m) {
            m.version += 1;
            m.updated_at = t;
        }
        count(&mut plan, report, before, m);
    }
    Ok(Writes::Tasks(plan))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole file at once: its columns and rows.
    fn read(bytes: &[u8], format: ImportFormat) -> Result<(Vec<String>, Vec<Row>), String> {
        let (mut columns, mut rows) = (Vec::new(), Vec::new());
        read_rows(
            bytes,
            format,
            usize::MAX,
            |_, _| true,
            |batch| {
                for c in batch.columns {
                    if !columns.contains(&c) {
                        columns.push(c);
                    }
                }
                rows.extend(batch.rows);
                true
            },
        )?;
        Ok((columns, rows))
    }

    #[test]
    fn a_bom_is_dropped_and_shift_jis_is_refused() {
        let (headers, rows) = read("\u{feff}Code,Name\r\nA1,日本語\r\n".as_bytes(), ImportFormat::Csv).unwrap();
        assert_eq!(headers, ["code", "name"]);
        assert_eq!(rows[0].cells["name"], "日本語");
        assert_eq!(rows[0].line, 2);
        // "テスト" in Shift_JIS.
        let err = read(b"code,name\nX,\x83\x65\x83\x58\x83\x67\n", ImportFormat::Csv)
            .err()
            .unwrap();
        assert!(err.contains("not UTF-8") && err.contains("Shift_JIS"), "{err}");
    }

    /// A reader that hands on one byte per call: every UTF-8 sequence and
    /// every CR LF is cut in two somewhere.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn a_file_read_a_byte_at_a_time_in_batches_keeps_its_lines_and_text() {
        let text = "\u{feff}code,name\r\nA1,日本語\r\n\r\nA2,\"two\r\nlines\"\r\nA3,三\r\n";
        let mut batches = Vec::new();
        read_rows(
            Trickle(text.as_bytes()),
            ImportFormat::Csv,
            1,
            |_, _| true,
            |b| {
                batches.push(
                    b.rows
                        .iter()
                        .map(|r| (r.line, r.cells["name"].clone()))
                        .collect::<Vec<_>>(),
                );
                true
            },
        )
        .unwrap();
        assert_eq!(
            batches,
            [
                vec![(2, "日本語".to_owned())],
                vec![(4, "two\r\nlines".to_owned())],
                vec![(6, "三".to_owned())]
            ]
        );
        let mut lines = Vec::new();
        read_rows(
            "code,name\nA1,x\n\n\nA2,y".as_bytes(),
            ImportFormat::Csv,
            9,
            |_, _| true,
            |b| {
                lines.extend(b.rows.iter().map(|r| r.line));
                true
            },
        )
        .unwrap();
        assert_eq!(lines, [2, 5], "blank lines count, and a last line without a line feed");
        let json = r#"[{"code": "A1", "name": "日本"}, {"code": "A2", "Name": "x", "phone": 3}]"#;
        let mut columns = Vec::new();
        read_rows(
            Trickle(json.as_bytes()),
            ImportFormat::Json,
            1,
            |_, _| true,
            |b| {
                columns.push(b.columns);
                true
            },
        )
        .unwrap();
        assert_eq!(columns, [vec!["code", "name"], vec!["code", "name", "phone"]]);
    }

    #[test]
    fn a_nul_or_a_broken_character_late_in_a_file_names_its_place() {
        let mut text = b"code,name\nA1,x\nA2,y\n".to_vec();
        text.extend_from_slice(b"A3,\0\n");
        let err = read_rows(Trickle(&text), ImportFormat::Csv, 1, |_, _| true, |_| true).unwrap_err();
        assert_eq!(err, "the file holds a NUL character (line 4); remove it");
        // A character cut short at the very end.
        let err = read_rows(
            Trickle("code,name\nA1,日".as_bytes().split_last().unwrap().1),
            ImportFormat::Csv,
            1,
            |_, _| true,
            |_| true,
        )
        .unwrap_err();
        assert!(err.starts_with("the file is not UTF-8 text (byte 14)"), "{err}");
        let err = read(b"[1]", ImportFormat::Json).unwrap_err();
        assert_eq!(err, "row 1: not an object");
        let err = read(b"{\"code\": 1}", ImportFormat::Json).unwrap_err();
        assert_eq!(err, "the JSON file must hold an array of objects, one per row");
        let err = read(b"[{\"code\": 1},", ImportFormat::Json).unwrap_err();
        assert!(err.starts_with("the file is not JSON"), "{err}");
    }

    /// The sizes of the batches `text` is cut into for `kind`.
    fn batch_sizes(text: &str, size: usize, kind: ImportKind) -> Vec<usize> {
        let mut sizes = Vec::new();
        read_rows(
            text.as_bytes(),
            ImportFormat::Csv,
            size,
            |a, b| may_cut(kind, a, b),
            |b| {
                sizes.push(b.rows.len());
                true
            },
        )
        .unwrap();
        sizes
    }

    #[test]
    fn a_deal_history_is_cut_between_deals_and_teams_not_at_all() {
        let text = "deal_code,to_stage,changed_at\nD1,a,1\nD1,b,2\nD1,c,3\nD2,a,1\nD3,a,1\n";
        assert_eq!(batch_sizes(text, 2, ImportKind::DealStageHistory), [3, 2]);
        assert_eq!(batch_sizes(text, 1, ImportKind::Teams), [5]);
        assert_eq!(batch_sizes(text, 1, ImportKind::Customers), [1, 1, 1, 1, 1]);
    }

    #[test]
    fn quoted_cells_may_hold_commas_and_line_breaks() {
        let text = "code,name\nA,\"Line one\nline two, still\"\nB,b\n";
        let (_, rows) = read(text.as_bytes(), ImportFormat::Csv).unwrap();
        assert_eq!(rows[0].cells["name"], "Line one\nline two, still");
        assert_eq!(
            (rows[0].line, rows[1].line),
            (2, 4),
            "lines are the file's, not the record count"
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Any bytes, as CSV or JSON: rows or a message, never a panic;
            /// every cell belongs to a header, and CSV lines count from 2.
            #[test]
            fn any_file_is_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600), json in any::<bool>()) {
                let format = if json { ImportFormat::Json } else { ImportFormat::Csv };
                if let Ok((headers, rows)) = read(&bytes, format) {
                    for row in &rows {
                        prop_assert!(row.cells.keys().all(|k| headers.contains(k)));
                        prop_assert!(json || row.line >= 2);
                    }
                }
            }

            /// Cells with commas, quotes and line breaks survive a CSV round trip.
            #[test]
            fn written_csv_reads_back(names in proptest::collection::vec("[a-zA-Z0-9 ,\"\n日本]{1,20}", 1..8)) {
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record(["code", "name"]).expect("header");
                for (i, n) in names.iter().enumerate() {
                    w.write_record([format!("C{i}"), n.clone()]).expect("row");
                }
                let bytes = w.into_inner().expect("bytes");
                let (_, rows) = read(&bytes, ImportFormat::Csv).expect("a written CSV reads");
                prop_assert_eq!(rows.len(), names.len());
                for (row, n) in rows.iter().zip(&names) {
                    // Cells are trimmed; a blank one is absent.
                    let trimmed = n.trim();
                    prop_assert_eq!(row.cells.get("name").map(String::as_str), (!trimmed.is_empty()).then_some(trimmed));
                }
            }

            /// Each cell parser gives a value or records a problem, never both, never a panic.
            #[test]
            fn cell_parsers_give_a_value_or_a_problem(cell in "\\PC{0,40}|[0-9/:T +-]{0,25}") {
                let row = Row { line: 2, cells: HashMap::from([("x".to_owned(), cell.clone())]) };
                let columns = HashSet::from(["x".to_owned()]);
                let checks: [fn(&mut Cells) -> bool; 5] = [
                    |c| c.int("x").is_some(),
                    |c| c.flag("x").is_some(),
                    |c| c.date("x").is_some(),
                    |c| c.instant("x", chrono_tz::Asia::Tokyo).is_some(),
                    |c| c.opt("x", 10).is_some_and(|v| v.chars().count() <= 10),
                ];
                for check in checks {
                    let mut cells = Cells::new(&row, &columns);
                    let value = check(&mut cells);
                    let problem = !cells.problems.is_empty();
                    prop_assert!(value != problem, "{cell:?}: value {value}, problems {:?}", cells.problems);
                }
            }
        }
    }
}
