//! Import from the sales-management system (admins).

use std::io::Read;

use async_graphql::{Context, Object, Upload};

use super::context::{db, writer};
use crate::{
    error::AppError,
    in_txn,
    service::import::{self, ImportFormat, ImportKind, Options, Report, Source},
};

/// Import mutations.
#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Imports customers, contacts, products, sales records, touchpoints,
    /// deals or deals' stage history from the sales-management system or
    /// another SFA, matched by their codes: a file sent
    /// as a multipart upload (`file`), or its text (`text`). A file with bad
    /// rows imports nothing unless `skipBadRows`; `dryRun` only reports.
    /// Importing the same file again changes nothing (admins).
    #[allow(clippy::too_many_arguments)]
    async fn import_data(
        &self,
        ctx: &Context<'_>,
        kind: ImportKind,
        file: Option<Upload>,
        text: Option<String>,
        #[graphql(desc = "CSV or JSON; by default from the uploaded file's name, else CSV.")] format: Option<
            ImportFormat,
        >,
        #[graphql(default = false)] dry_run: bool,
        #[graphql(default = false)] skip_bad_rows: bool,
    ) -> async_graphql::Result<Report> {
        let actor = writer(ctx)?;
        actor.require_admin("import data")?;
        let (bytes, name) = match (file, text) {
            (Some(f), None) => {
                let v = f.value(ctx).map_err(|e| AppError::bad(format!("file: {e}")))?;
                let name = v.filename.clone();
                let mut bytes = Vec::new();
                v.into_read()
                    .read_to_end(&mut bytes)
                    .map_err(|e| AppError::bad(format!("file: cannot be read ({e})")))?;
                (bytes, name)
            }
            (None, Some(t)) => (t.into_bytes(), String::new()),
            _ => return Err(AppError::bad("give exactly one of `file` and `text`").into()),
        };
        let format = format.unwrap_or_else(|| ImportFormat::from_name(&name));
        let opts = Options { dry_run, skip_bad_rows };
        let source = Source::Bytes(bytes.into());
        if dry_run {
            return Ok(import::run(db(ctx)?, actor, kind, format, &source, opts).await?);
        }
        Ok(in_txn!(ctx, |txn| import::run(
            &txn, actor, kind, format, &source, opts
        )))
    }
}
