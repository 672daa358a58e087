//! Limits async-graphql does not have: query size, aliases and selected
//! fields per document (alias bombs, huge documents), and the characters
//! and length of every string in a request, checked right after parsing;
//! and stable codes for the limits it does have.

use std::sync::Arc;

use async_graphql::{
    ErrorExtensions, ServerError, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};
use async_graphql_value::{ConstValue, Value};

use crate::config::GraphqlConfig;

/// The document limits of a schema.
pub struct DocumentLimits {
    max_query_bytes: usize,
    max_aliases: usize,
    max_fields: usize,
}

impl DocumentLimits {
    /// Limits from the configuration.
    pub fn new(cfg: &GraphqlConfig) -> Self {
        Self {
            max_query_bytes: cfg.max_query_bytes,
            max_aliases: cfg.max_aliases,
            max_fields: cfg.max_fields,
        }
    }
}

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Self {
            max_query_bytes: self.max_query_bytes,
            max_aliases: self.max_aliases,
            max_fields: self.max_fields,
        })
    }
}

fn limited(code: &'static str, message: String) -> ServerError {
    let mut error = async_graphql::Error::new(message)
        .extend_with(|_, e| e.set("code", code))
        .into_server_error(Default::default());
    // About the whole request, not a place in the document (line 0 is none).
    error.locations.clear();
    error
}

#[derive(Default)]
struct Counts {
    aliases: usize,
    fields: usize,
}

fn count(set: &SelectionSet, counts: &mut Counts) {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                counts.fields += 1;
                counts.aliases += usize::from(f.node.alias.is_some());
                count(&f.node.selection_set.node, counts);
            }
            Selection::InlineFragment(f) => count(&f.node.selection_set.node, counts),
            Selection::FragmentSpread(_) => {}
        }
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for DocumentLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if query.len() > self.max_query_bytes {
            return Err(limited(
                "QUERY_TOO_LARGE",
                format!("the query text is longer than {} bytes", self.max_query_bytes),
            ));
        }
        let doc = next.run(ctx, query, variables).await?;
        // Fragments are counted once each, however often they are spread:
        // spreads multiply work, but the depth and complexity limits bound that.
        let mut counts = Counts::default();
        for (_, op) in doc.operations.iter() {
            count(&op.node.selection_set.node, &mut counts);
        }
        for fragment in doc.fragments.values() {
            count(&fragment.node.selection_set.node, &mut counts);
        }
        if counts.aliases > self.max_aliases {
            return Err(limited(
                "TOO_MANY_ALIASES",
                format!(
                    "the query uses {} aliases; at most {} are allowed",
                    counts.aliases, self.max_aliases
                ),
            ));
        }
        check_strings(&doc, variables)?;
        if counts.fields > self.max_fields {
            return Err(limited(
                "TOO_MANY_FIELDS",
                format!(
                    "the query selects {} fields; at most {} are allowed",
                    counts.fields, self.max_fields
                ),
            ));
        }
        Ok(doc)
    }
}

/// The longest string a request may hold anywhere, in characters, except
/// in [`BULK_TEXT`] arguments (those are bounded by the body limit).
/// Fields check their own, smaller limits when they store a value.
pub const MAX_STRING_CHARS: usize = crate::service::validate::LONG_TEXT;

/// Arguments (field, argument) whose text is a whole file.
const BULK_TEXT: &[(&str, &str)] = &[("importData", "text")];

/// Every string of a request, in the document or its variables (JSON
/// scalars and object keys included), is free of NUL characters and at
/// most [`MAX_STRING_CHARS`] long: PostgreSQL refuses NUL in text and
/// jsonb while SQLite stores it, and a string of megabytes reaches no
/// field that needs one. Checked once here, so both databases answer the
/// same BAD_USER_INPUT before any statement runs.
fn check_strings(doc: &ExecutableDocument, variables: &Variables) -> ServerResult<()> {
    let mut bulk_variables = Vec::new();
    let mut sets: Vec<&SelectionSet> = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .collect();
    sets.extend(doc.fragments.values().map(|f| &f.node.selection_set.node));
    while let Some(set) = sets.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let field = f.node.name.node.as_str();
                    for (name, value) in &f.node.arguments {
                        let bulk = BULK_TEXT.contains(&(field, name.node.as_str()));
                        match &value.node {
                            Value::Variable(v) if bulk => bulk_variables.push(v.as_str()),
                            _ if bulk => {}
                            v => literal(v, &format!("{field}({})", name.node)).map_err(bad_string)?,
                        }
                    }
                    sets.push(&f.node.selection_set.node);
                }
                Selection::InlineFragment(f) => sets.push(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    for (_, op) in doc.operations.iter() {
        for var in &op.node.variable_definitions {
            if let Some(default) = &var.node.default_value {
                constant(&default.node, &format!("${}", var.node.name.node)).map_err(bad_string)?;
            }
        }
    }
    for (name, value) in variables.iter() {
        if !bulk_variables.contains(&name.as_str()) {
            constant(value, &format!("${name}")).map_err(bad_string)?;
        }
    }
    Ok(())
}

fn bad_string(message: String) -> ServerError {
    limited("BAD_USER_INPUT", message)
}

fn text(s: &str, at: &str) -> Result<(), String> {
    if s.contains('\0') {
        return Err(format!("`{at}` must not contain NUL characters"));
    }
    if s.len() > MAX_STRING_CHARS && s.chars().count() > MAX_STRING_CHARS {
        return Err(format!("`{at}` is longer than {MAX_STRING_CHARS} characters"));
    }
    Ok(())
}

fn literal(value: &Value, at: &str) -> Result<(), String> {
    match value {
        Value::String(s) => text(s, at),
        Value::List(items) => items.iter().try_for_each(|v| literal(v, at)),
        Value::Object(fields) => fields.iter().try_for_each(|(k, v)| {
            let at = format!("{at}.{k}");
            text(k, &at)?;
            literal(v, &at)
        }),
        _ => Ok(()),
    }
}

fn constant(value: &ConstValue, at: &str) -> Result<(), String> {
    match value {
        ConstValue::String(s) => text(s, at),
        ConstValue::List(items) => items.iter().try_for_each(|v| constant(v, at)),
        ConstValue::Object(fields) => fields.iter().try_for_each(|(k, v)| {
            let at = format!("{at}.{k}");
            text(k, &at)?;
            constant(v, &at)
        }),
        _ => Ok(()),
    }
}

/// The code of an error raised by async-graphql's own limits, found by its message.
pub fn code_of_builtin(message: &str) -> Option<&'static str> {
    if message.starts_with("Query is nested too deep")
        || message.starts_with("The recursion depth")
        || message.ends_with("stack limit reached")
    {
        Some("QUERY_TOO_DEEP")
    } else if message.starts_with("Query is too complex") {
        Some("QUERY_TOO_COMPLEX")
    } else if message.starts_with("The number of directives") {
        Some("TOO_MANY_DIRECTIVES")
    } else {
        None
    }
}

/// A parser error quotes the whole line it failed on, which for a one-line
/// document is the whole document: keep its position and its reason only.
pub fn tidy_parse_message(message: &str) -> Option<String> {
    if message.len() <= 300 || !message.starts_with(" --> ") {
        return None;
    }
    let at = message
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches(" --> ")
        .trim();
    let reason = message
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .trim_start_matches("= ");
    if reason == "stack limit reached" {
        return Some(format!("the query is nested too deeply (parsing stopped at {at})"));
    }
    Some(format!("syntax error at {at}: {reason}"))
}
