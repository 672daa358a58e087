//! Closed vocabularies stored as short strings. Open, per-company vocabularies
//! (stage keys, contact levels, reactions, KPI metrics) are plain strings
//! defined by the company's plugins instead.

use sea_orm::entity::prelude::*;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* #[sea_orm(string_value = $value)] $variant),+
        }

        impl $name {
            /// The value stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $value),+ }
            }
        }
    };
}

string_enum!(
    /// What a member may do; finer rules come from the access-control layer.
    Role {
        /// A sales representative.
        Rep = "rep",
        /// Leads a team and sees its members' work.
        Manager = "manager",
        /// Configures the company.
        Admin = "admin",
    }
);

string_enum!(
    /// Where a customer stands in its relationship with the company.
    CustomerStatus {
        /// Not yet buying.
        Prospect = "prospect",
        /// Buying now.
        Active = "active",
        /// Bought before, quiet now.
        Dormant = "dormant",
    }
);

string_enum!(
    /// The outcome of a deal.
    DealStatus {
        /// Still being worked on.
        Open = "open",
        /// Ordered.
        Won = "won",
        /// Lost or abandoned.
        Lost = "lost",
    }
);

string_enum!(
    /// How a sales activity reached the customer.
    ActivityKind {
        /// An in-person visit.
        Visit = "visit",
        /// A phone call.
        Call = "call",
        /// An e-mail exchange.
        Email = "email",
        /// An online meeting.
        WebMeeting = "web_meeting",
        /// A seminar or event the customer attended.
        Seminar = "seminar",
        /// Anything else.
        Other = "other",
    }
);

string_enum!(
    /// The life cycle of an activity: planned first, then done or cancelled.
    ActivityStatus {
        /// On the calendar, not happened yet.
        Planned = "planned",
        /// Happened; counts as a contact with the customer.
        Done = "done",
        /// Will not happen.
        Cancelled = "cancelled",
    }
);

string_enum!(
    /// The life cycle of a task.
    TaskStatus {
        /// To do.
        Open = "open",
        /// Completed.
        Done = "done",
        /// Dropped.
        Cancelled = "cancelled",
    }
);

string_enum!(
    /// Why a task exists.
    TaskKind {
        /// A promise made to a customer (宿題).
        CustomerPromise = "customer_promise",
        /// An internal initiative.
        Internal = "internal",
    }
);

string_enum!(
    /// The life cycle of a quote.
    QuoteStatus {
        /// Being prepared.
        Draft = "draft",
        /// Sent to the customer.
        Sent = "sent",
        /// Accepted by the customer.
        Accepted = "accepted",
        /// Rejected by the customer.
        Rejected = "rejected",
        /// No longer valid.
        Expired = "expired",
    }
);

string_enum!(
    /// What a comment is attached to.
    CommentSubject {
        /// A daily report.
        DailyReport = "daily_report",
        /// A deal.
        Deal = "deal",
        /// An activity.
        Activity = "activity",
        /// A customer.
        Customer = "customer",
    }
);

string_enum!(
    /// The length of a target's period.
    PeriodKind {
        /// One day.
        Day = "day",
        /// Monday to Sunday.
        Week = "week",
        /// A calendar month.
        Month = "month",
        /// Three calendar months.
        Quarter = "quarter",
        /// A calendar year.
        Year = "year",
    }
);

string_enum!(
    /// What a notification tells its recipient.
    NotificationKind {
        /// A daily report was submitted (to the author's manager and the members of its deals).
        DailyReport = "daily_report",
        /// A comment on something of the recipient's, or that they follow.
        Comment = "comment",
        /// The recipient was mentioned in a comment.
        Mention = "mention",
        /// A task was assigned to the recipient.
        TaskAssigned = "task_assigned",
        /// A task of the recipient's is due tomorrow.
        TaskDue = "task_due",
        /// A task of the recipient's is past its deadline.
        TaskOverdue = "task_overdue",
        /// A deal the recipient belongs to changed stage (or was reopened).
        DealStage = "deal_stage",
        /// A deal the recipient belongs to was won.
        DealWon = "deal_won",
        /// A deal the recipient belongs to was lost.
        DealLost = "deal_lost",
        /// A quality indicator of a deal the recipient belongs to changed.
        Quality = "quality",
        /// A question of the recipient's (or one they follow) was answered, or their answer accepted.
        Answer = "answer",
    }
);

string_enum!(
    /// Where a webhook delivery stands.
    WebhookDeliveryStatus {
        /// Waiting for its first or next attempt.
        Pending = "pending",
        /// The endpoint answered 2xx.
        Delivered = "delivered",
        /// Every attempt failed; an admin may retry it.
        Failed = "failed",
    }
);

string_enum!(
    /// The record a notification (or a follow) is about.
    NotificationSubject {
        /// A daily report.
        DailyReport = "daily_report",
        /// A deal.
        Deal = "deal",
        /// An activity.
        Activity = "activity",
        /// A customer.
        Customer = "customer",
        /// A task.
        Task = "task",
        /// A question on a stage of the process.
        Question = "question",
    }
);
