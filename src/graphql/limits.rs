//! Limits async-graphql does not have: query size, aliases and selected
//! fields per document (alias bombs, huge documents), checked right after
//! parsing; and stable codes for the limits it does have.

use std::sync::Arc;

use async_graphql::{
    ErrorExtensions, ServerError, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

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
    async_graphql::Error::new(message)
        .extend_with(|_, e| e.set("code", code))
        .into_server_error(Default::default())
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
