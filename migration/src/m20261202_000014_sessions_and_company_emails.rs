//! Sign-in sessions (a token names its session, so one can be signed out),
//! e-mail addresses unique per company instead of across the server (no
//! answer of one company may depend on another's members), and failed
//! logins counted per client address as well as per e-mail.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("login_session")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("member_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(string_len("client", 64))
                    .col(string_len("user_agent", 256))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_login_session_company_id")
                            .from("login_session", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_login_session_member_id")
                            .from("login_session", "member_id")
                            .to("member", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_session_member")
                    .table("login_session")
                    .col("member_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name("uniq_member_email").table("member").to_owned())
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uniq_member_company_email")
                    .table("member")
                    .col("company_id")
                    .col("email")
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Login finds an address in every company it exists in.
        manager
            .create_index(
                Index::create()
                    .name("idx_member_email")
                    .table("member")
                    .col("email")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("login_failure")
                    .add_column(string_len("client", 64).default(""))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_login_failure_pair", &["email", "client", "failed_at"][..]),
            ("idx_login_failure_client", &["client", "failed_at"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table("login_failure");
            for c in cols {
                index.col(*c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["idx_login_failure_pair", "idx_login_failure_client"] {
            manager
                .drop_index(Index::drop().name(name).table("login_failure").to_owned())
                .await?;
        }
        manager
            .alter_table(Table::alter().table("login_failure").drop_column("client").to_owned())
            .await?;
        for name in ["idx_member_email", "uniq_member_company_email"] {
            manager
                .drop_index(Index::drop().name(name).table("member").to_owned())
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("uniq_member_email")
                    .table("member")
                    .col("email")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("login_session").to_owned())
            .await
    }
}
