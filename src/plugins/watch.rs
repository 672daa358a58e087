//! Picks up script changes on disk without a restart: every few seconds the
//! sources of each set are read and hashed (a few small files), and a set
//! whose hash differs from the running version is reloaded. Polling rather
//! than file-system events works the same on every platform, on network and
//! container mounts, and with editors that replace files on save.

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;

use super::{Plugins, ScriptBudget, run};

/// Polls `plugins`' folder every `every` for the life of the server.
pub fn spawn(plugins: Arc<Plugins>, db: DatabaseConnection, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            check(&plugins, &db).await;
        }
    });
}

/// Reloads every set changed on disk. A broken change is logged with its
/// file, line and column (and shown by `process { loadError }`) once per
/// version of the files; the last good version keeps running.
pub async fn check(plugins: &Arc<Plugins>, db: &DatabaseConnection) {
    let scan = plugins.clone();
    let Ok(changed) = run(&ScriptBudget::unbounded(), move || {
        scan.forget_reverted();
        Ok(scan.changed_on_disk())
    })
    .await
    else {
        return;
    };
    for name in changed {
        let reload = plugins.clone();
        let set = name.clone();
        match run(&ScriptBudget::unbounded(), move || reload.reload(&set)).await {
            Ok(reloaded) => {
                tracing::info!(set = %name, version = %reloaded.set.version, "plugin set changed on disk; reloaded");
                if let Err(e) = crate::service::rescore::start_for_sets(db, plugins, &reloaded.scoring_changed).await {
                    tracing::error!(set = %name, error = %e.message(), "could not start the re-score after a reload");
                }
            }
            Err(e) => {
                tracing::error!(set = %name, error = %e.message(), "plugin set changed on disk but does not load; the last good version keeps running");
            }
        }
    }
}
