//! The whole data model of the first release, in foreign-key order.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables in creation order (parents first); dropped in reverse.
const TABLES: &[&str] = &[
    "company",
    "team",
    "member",
    "customer_group",
    "customer",
    "contact",
    "product",
    "deal",
    "deal_member",
    "deal_stage_history",
    "daily_report",
    "activity",
    "activity_contact",
    "activity_product",
    "activity_reaction",
    "quote",
    "task",
    "sales_record",
    "target",
    "touchpoint",
    "comment",
    "audit_log",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // company
        manager
            .create_table(
                Table::create()
                    .table("company")
                    .col(pk_uuid("id"))
                    .col(string_len("name", 200))
                    .col(string_len("slug", 64))
                    .col(string_len_null("plugin_set", 64))
                    .col(string_len("currency", 3))
                    .col(json_binary("settings"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uniq_company_slug")
                    .table("company")
                    .col("slug")
                    .unique()
                    .to_owned(),
            )
            .await?;
        // team
        manager
            .create_table(
                Table::create()
                    .table("team")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid_null("parent_id"))
                    .col(string_len("name", 200))
                    .col(uuid_null("manager_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_team_company_id")
                            .from("team", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_team_parent_id")
                            .from("team", "parent_id")
                            .to("team", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_team_company_parent")
                    .table("team")
                    .col("company_id")
                    .col("parent_id")
                    .to_owned(),
            )
            .await?;
        // member
        manager
            .create_table(
                Table::create()
                    .table("member")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid_null("team_id"))
                    .col(string_len("email", 254))
                    .col(string_len("name", 200))
                    .col(string_len("role", 24))
                    .col(string_len("password_hash", 200))
                    .col(boolean("active"))
                    .col(integer("token_version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_member_company_id")
                            .from("member", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_member_team_id")
                            .from("member", "team_id")
                            .to("team", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_member_company_team")
                    .table("member")
                    .col("company_id")
                    .col("team_id")
                    .to_owned(),
            )
            .await?;
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
        // customer_group
        manager
            .create_table(
                Table::create()
                    .table("customer_group")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(string_len("name", 200))
                    .col(text_null("description"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_customer_group_company_id")
                            .from("customer_group", "company_id")
                            .to("company", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_customer_group_company_name")
                    .table("customer_group")
                    .col("company_id")
                    .col("name")
                    .to_owned(),
            )
            .await?;
        // customer
        manager
            .create_table(
                Table::create()
                    .table("customer")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid_null("group_id"))
                    .col(uuid("owner_id"))
                    .col(string_len("name", 200))
                    .col(string_len_null("name_kana", 200))
                    .col(string_len_null("external_code", 64))
                    .col(boolean("is_priority"))
                    .col(string_len("status", 24))
                    .col(string_len_null("industry", 100))
                    .col(string_len_null("address", 500))
                    .col(string_len_null("phone", 50))
                    .col(string_len_null("website", 500))
                    .col(json_binary("custom_fields"))
                    .col(timestamp_with_time_zone_null("last_contact_at"))
                    .col(integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_customer_company_id")
                            .from("customer", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_customer_group_id")
                            .from("customer", "group_id")
                            .to("customer_group", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_customer_owner_id")
                            .from("customer", "owner_id")
                            .to("member", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_customer_company_owner")
                    .table("customer")
                    .col("company_id")
                    .col("owner_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_customer_company_group")
                    .table("customer")
                    .col("company_id")
                    .col("group_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_customer_company_last_contact_at")
                    .table("customer")
                    .col("company_id")
                    .col("last_contact_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_customer_company_name")
                    .table("customer")
                    .col("company_id")
                    .col("name")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uniq_customer_company_external_code")
                    .table("customer")
                    .col("company_id")
                    .col("external_code")
                    .unique()
                    .to_owned(),
            )
            .await?;
        // contact
        manager
            .create_table(
                Table::create()
                    .table("contact")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("customer_id"))
                    .col(string_len("name", 200))
                    .col(string_len_null("name_kana", 200))
                    .col(string_len_null("department", 200))
                    .col(string_len_null("title", 200))
                    .col(string_len("level", 32))
                    .col(string_len_null("email", 254))
                    .col(string_len_null("phone", 50))
                    .col(integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_contact_company_id")
                            .from("contact", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_contact_customer_id")
                            .from("contact", "customer_id")
                            .to("customer", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_contact_company_customer")
                    .table("contact")
                    .col("company_id")
                    .col("customer_id")
                    .to_owned(),
            )
            .await?;
        // product
        manager
            .create_table(
                Table::create()
                    .table("product")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(string_len_null("code", 64))
                    .col(string_len("name", 200))
                    .col(string_len_null("category", 100))
                    .col(boolean("is_focus"))
                    .col(big_integer_null("unit_price"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_product_company_id")
                            .from("product", "company_id")
                            .to("company", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_product_company_name")
                    .table("product")
                    .col("company_id")
                    .col("name")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uniq_product_company_code")
                    .table("product")
                    .col("company_id")
                    .col("code")
                    .unique()
                    .to_owned(),
            )
            .await?;
        // deal
        manager
            .create_table(
                Table::create()
                    .table("deal")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("customer_id"))
                    .col(uuid("owner_id"))
                    .col(string_len("name", 200))
                    .col(string_len("stage", 64))
                    .col(timestamp_with_time_zone("stage_entered_at"))
                    .col(big_integer_null("amount"))
                    .col(date_null("expected_close_date"))
                    .col(string_len("status", 24))
                    .col(string_len_null("lost_reason", 500))
                    .col(string_len_null("origin", 64))
                    .col(text_null("description"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .col(timestamp_with_time_zone_null("last_activity_at"))
                    .col(integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deal_company_id")
                            .from("deal", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deal_customer_id")
                            .from("deal", "customer_id")
                            .to("customer", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deal_owner_id")
                            .from("deal", "owner_id")
                            .to("member", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deal_company_owner")
                    .table("deal")
                    .col("company_id")
                    .col("owner_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deal_company_customer")
                    .table("deal")
                    .col("company_id")
                    .col("customer_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deal_company_stage")
                    .table("deal")
                    .col("company_id")
                    .col("stage")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deal_company_status_expected_close_date")
                    .table("deal")
                    .col("company_id")
                    .col("status")
                    .col("expected_close_date")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deal_company_last_activity_at")
                    .table("deal")
                    .col("company_id")
                    .col("last_activity_at")
                    .to_owned(),
            )
            .await?;
        // deal_member
        manager
            .create_table(
                Table::create()
                    .table("deal_member")
                    .col(uuid("deal_id"))
                    .col(uuid("member_id"))
                    .col(uuid("company_id"))
                    .col(string_len_null("role", 64))
                    .col(timestamp_with_time_zone("added_at"))
                    .primary_key(Index::create().col("deal_id").col("member_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deal_member_company_id")
                            .from("deal_member", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deal_member_deal_id")
                            .from("deal_member", "deal_id")
                            .to("deal", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deal_member_member_id")
                            .from("deal_member", "member_id")
                            .to("member", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deal_member_company_member")
                    .table("deal_member")
                    .col("company_id")
                    .col("member_id")
                    .to_owned(),
            )
            .await?;
        // deal_stage_history
        manager
            .create_table(
                Table::create()
                    .table("deal_stage_history")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("deal_id"))
                    .col(string_len_null("from_stage", 64))
                    .col(string_len("to_stage", 64))
                    .col(uuid("changed_by"))
                    .col(timestamp_with_time_zone("changed_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deal_stage_history_company_id")
                            .from("deal_stage_history", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deal_stage_history_deal_id")
                            .from("deal_stage_history", "deal_id")
                            .to("deal", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deal_stage_history_changed_by")
                            .from("deal_stage_history", "changed_by")
                            .to("member", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deal_stage_history_deal_changed_at")
                    .table("deal_stage_history")
                    .col("deal_id")
                    .col("changed_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deal_stage_history_company_changed_at")
                    .table("deal_stage_history")
                    .col("company_id")
                    .col("changed_at")
                    .to_owned(),
            )
            .await?;
        // daily_report
        manager
            .create_table(
                Table::create()
                    .table("daily_report")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("member_id"))
                    .col(date("report_date"))
                    .col(text("body"))
                    .col(timestamp_with_time_zone_null("submitted_at"))
                    .col(integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_daily_report_company_id")
                            .from("daily_report", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_daily_report_member_id")
                            .from("daily_report", "member_id")
                            .to("member", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_daily_report_company_report_date")
                    .table("daily_report")
                    .col("company_id")
                    .col("report_date")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uniq_daily_report_member_report_date")
                    .table("daily_report")
                    .col("member_id")
                    .col("report_date")
                    .unique()
                    .to_owned(),
            )
            .await?;
        // activity
        manager
            .create_table(
                Table::create()
                    .table("activity")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("member_id"))
                    .col(uuid("customer_id"))
                    .col(uuid_null("deal_id"))
                    .col(uuid_null("daily_report_id"))
                    .col(string_len("kind", 24))
                    .col(string_len("status", 24))
                    .col(string_len("subject", 200))
                    .col(timestamp_with_time_zone("scheduled_at"))
                    .col(timestamp_with_time_zone_null("done_at"))
                    .col(integer_null("duration_minutes"))
                    .col(integer("attendee_count"))
                    .col(text_null("notes"))
                    .col(text_null("outcome"))
                    .col(integer_null("energy_points"))
                    .col(string_len_null("energy_version", 64))
                    .col(integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_company_id")
                            .from("activity", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_member_id")
                            .from("activity", "member_id")
                            .to("member", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_customer_id")
                            .from("activity", "customer_id")
                            .to("customer", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_deal_id")
                            .from("activity", "deal_id")
                            .to("deal", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_daily_report_id")
                            .from("activity", "daily_report_id")
                            .to("daily_report", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_activity_company_scheduled_at")
                    .table("activity")
                    .col("company_id")
                    .col("scheduled_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_activity_company_member_scheduled_at")
                    .table("activity")
                    .col("company_id")
                    .col("member_id")
                    .col("scheduled_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_activity_company_customer_scheduled_at")
                    .table("activity")
                    .col("company_id")
                    .col("customer_id")
                    .col("scheduled_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_activity_company_deal_scheduled_at")
                    .table("activity")
                    .col("company_id")
                    .col("deal_id")
                    .col("scheduled_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_activity_daily_report")
                    .table("activity")
                    .col("daily_report_id")
                    .to_owned(),
            )
            .await?;
        // activity_contact
        manager
            .create_table(
                Table::create()
                    .table("activity_contact")
                    .col(uuid("activity_id"))
                    .col(uuid("contact_id"))
                    .col(uuid("company_id"))
                    .primary_key(Index::create().col("activity_id").col("contact_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_contact_company_id")
                            .from("activity_contact", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_contact_activity_id")
                            .from("activity_contact", "activity_id")
                            .to("activity", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_contact_contact_id")
                            .from("activity_contact", "contact_id")
                            .to("contact", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_activity_contact_contact")
                    .table("activity_contact")
                    .col("contact_id")
                    .to_owned(),
            )
            .await?;
        // activity_product
        manager
            .create_table(
                Table::create()
                    .table("activity_product")
                    .col(uuid("activity_id"))
                    .col(uuid("product_id"))
                    .col(uuid("company_id"))
                    .primary_key(Index::create().col("activity_id").col("product_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_product_company_id")
                            .from("activity_product", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_product_activity_id")
                            .from("activity_product", "activity_id")
                            .to("activity", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_product_product_id")
                            .from("activity_product", "product_id")
                            .to("product", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_activity_product_company_product")
                    .table("activity_product")
                    .col("company_id")
                    .col("product_id")
                    .to_owned(),
            )
            .await?;
        // activity_reaction
        manager
            .create_table(
                Table::create()
                    .table("activity_reaction")
                    .col(uuid("activity_id"))
                    .col(string_len("reaction", 64))
                    .col(uuid("company_id"))
                    .primary_key(Index::create().col("activity_id").col("reaction"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_reaction_company_id")
                            .from("activity_reaction", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_reaction_activity_id")
                            .from("activity_reaction", "activity_id")
                            .to("activity", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        // quote
        manager
            .create_table(
                Table::create()
                    .table("quote")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("deal_id"))
                    .col(string_len_null("number", 64))
                    .col(string_len("title", 200))
                    .col(big_integer("amount"))
                    .col(string_len("status", 24))
                    .col(date_null("issued_on"))
                    .col(date_null("valid_until"))
                    .col(integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_quote_company_id")
                            .from("quote", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_quote_deal_id")
                            .from("quote", "deal_id")
                            .to("deal", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_quote_company_deal")
                    .table("quote")
                    .col("company_id")
                    .col("deal_id")
                    .to_owned(),
            )
            .await?;
        // task
        manager
            .create_table(
                Table::create()
                    .table("task")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(string_len("title", 200))
                    .col(text_null("description"))
                    .col(string_len("kind", 24))
                    .col(string_len("status", 24))
                    .col(uuid("assignee_id"))
                    .col(uuid("creator_id"))
                    .col(date_null("due_date"))
                    .col(uuid_null("customer_id"))
                    .col(uuid_null("deal_id"))
                    .col(uuid_null("activity_id"))
                    .col(uuid_null("quote_id"))
                    .col(timestamp_with_time_zone_null("completed_at"))
                    .col(integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_task_company_id")
                            .from("task", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_task_assignee_id")
                            .from("task", "assignee_id")
                            .to("member", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_task_creator_id")
                            .from("task", "creator_id")
                            .to("member", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_task_customer_id")
                            .from("task", "customer_id")
                            .to("customer", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_task_deal_id")
                            .from("task", "deal_id")
                            .to("deal", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_task_activity_id")
                            .from("task", "activity_id")
                            .to("activity", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_task_quote_id")
                            .from("task", "quote_id")
                            .to("quote", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_task_company_assignee_status_due_date")
                    .table("task")
                    .col("company_id")
                    .col("assignee_id")
                    .col("status")
                    .col("due_date")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_task_company_status_due_date")
                    .table("task")
                    .col("company_id")
                    .col("status")
                    .col("due_date")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_task_company_customer")
                    .table("task")
                    .col("company_id")
                    .col("customer_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_task_company_deal")
                    .table("task")
                    .col("company_id")
                    .col("deal_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_task_activity")
                    .table("task")
                    .col("activity_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_task_quote")
                    .table("task")
                    .col("quote_id")
                    .to_owned(),
            )
            .await?;
        // sales_record
        manager
            .create_table(
                Table::create()
                    .table("sales_record")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("customer_id"))
                    .col(uuid_null("product_id"))
                    .col(uuid_null("member_id"))
                    .col(date("sold_on"))
                    .col(big_integer("amount"))
                    .col(big_integer("gross_profit"))
                    .col(integer_null("quantity"))
                    .col(string_len("external_ref", 100))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sales_record_company_id")
                            .from("sales_record", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sales_record_customer_id")
                            .from("sales_record", "customer_id")
                            .to("customer", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sales_record_product_id")
                            .from("sales_record", "product_id")
                            .to("product", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sales_record_member_id")
                            .from("sales_record", "member_id")
                            .to("member", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sales_record_company_sold_on")
                    .table("sales_record")
                    .col("company_id")
                    .col("sold_on")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sales_record_company_customer_sold_on")
                    .table("sales_record")
                    .col("company_id")
                    .col("customer_id")
                    .col("sold_on")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sales_record_company_member_sold_on")
                    .table("sales_record")
                    .col("company_id")
                    .col("member_id")
                    .col("sold_on")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uniq_sales_record_company_external_ref")
                    .table("sales_record")
                    .col("company_id")
                    .col("external_ref")
                    .unique()
                    .to_owned(),
            )
            .await?;
        // target
        manager
            .create_table(
                Table::create()
                    .table("target")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid_null("member_id"))
                    .col(uuid_null("team_id"))
                    .col(string_len("period_kind", 24))
                    .col(date("period_start"))
                    .col(string_len("metric", 64))
                    .col(big_integer("value"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_target_company_id")
                            .from("target", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_target_member_id")
                            .from("target", "member_id")
                            .to("member", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_target_team_id")
                            .from("target", "team_id")
                            .to("team", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_target_company_period_start")
                    .table("target")
                    .col("company_id")
                    .col("period_start")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_target_company_member")
                    .table("target")
                    .col("company_id")
                    .col("member_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_target_company_team")
                    .table("target")
                    .col("company_id")
                    .col("team_id")
                    .to_owned(),
            )
            .await?;
        // touchpoint
        manager
            .create_table(
                Table::create()
                    .table("touchpoint")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("customer_id"))
                    .col(uuid_null("contact_id"))
                    .col(string_len("kind", 64))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .col(json_binary("details"))
                    .col(string_len_null("source", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_touchpoint_company_id")
                            .from("touchpoint", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_touchpoint_customer_id")
                            .from("touchpoint", "customer_id")
                            .to("customer", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_touchpoint_contact_id")
                            .from("touchpoint", "contact_id")
                            .to("contact", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_touchpoint_company_customer_occurred_at")
                    .table("touchpoint")
                    .col("company_id")
                    .col("customer_id")
                    .col("occurred_at")
                    .to_owned(),
            )
            .await?;
        // comment
        manager
            .create_table(
                Table::create()
                    .table("comment")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("author_id"))
                    .col(string_len("subject_type", 24))
                    .col(uuid("subject_id"))
                    .col(uuid_null("parent_id"))
                    .col(text("body"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_comment_company_id")
                            .from("comment", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_comment_author_id")
                            .from("comment", "author_id")
                            .to("member", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_comment_parent_id")
                            .from("comment", "parent_id")
                            .to("comment", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_comment_company_subject_type_subject_created_at")
                    .table("comment")
                    .col("company_id")
                    .col("subject_type")
                    .col("subject_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_comment_parent")
                    .table("comment")
                    .col("parent_id")
                    .to_owned(),
            )
            .await?;
        // audit_log
        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid_null("actor_member_id"))
                    .col(uuid_null("actor_api_key_id"))
                    .col(string_len("action", 64))
                    .col(string_len("entity_type", 64))
                    .col(uuid("entity_id"))
                    .col(json_binary("changes"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_audit_log_company_id")
                            .from("audit_log", "company_id")
                            .to("company", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_company_created_at")
                    .table("audit_log")
                    .col("company_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_company_entity_type_entity")
                    .table("audit_log")
                    .col("company_id")
                    .col("entity_type")
                    .col("entity_id")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager.drop_table(Table::drop().table(*table).to_owned()).await?;
        }
        Ok(())
    }
}
