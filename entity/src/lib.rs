//! sea-orm entities of the SFA data model: one module per table.
//!
//! Plain data only: no GraphQL derives on models, so no column (such as a
//! password hash) can leak through the API by accident. Every table holding
//! company data carries `company_id`; ids are UUID v7, times are UTC, money is
//! `i64` in the company currency's minor unit.

pub mod enums;

pub mod activity;
pub mod activity_contact;
pub mod activity_product;
pub mod activity_reaction;
pub mod answer;
pub mod api_key;
pub mod audit_log;
pub mod comment;
pub mod company;
pub mod contact;
pub mod customer;
pub mod customer_group;
pub mod daily_report;
pub mod deal;
pub mod deal_member;
pub mod deal_quality;
pub mod deal_stage_history;
pub mod follow;
pub mod forecast_snapshot;
pub mod login_failure;
pub mod login_session;
pub mod member;
pub mod notification;
pub mod notification_mute;
pub mod process_version;
pub mod product;
pub mod question;
pub mod quote;
pub mod rescore_job;
pub mod sales_record;
pub mod target;
pub mod task;
pub mod team;
pub mod touchpoint;
pub mod webhook;
pub mod webhook_delivery;
