//! The demo company: a realistic sales organisation to explore the API with.
//!
//! Deterministic for a given seed and day: ids and data come from a seeded
//! RNG, and dates are laid out around today (a year of history, next week's
//! plans, some overdue tasks), so the demo always looks alive. Rows are
//! bulk-inserted in one transaction.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use entity::{enums::*, *};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, TransactionTrait};
use uuid::Uuid;

use crate::{
    auth::hash_password,
    error::AppResult,
    plugins::{PluginSet, Plugins, activity_input},
};

/// The plugin set of the demo company: the seven-stage Japanese SFA process with after-sales stages.
pub const DEMO_PLUGIN_SET: &str = "sfa7";

/// The demo company's slug.
pub const DEMO_SLUG: &str = "demo";
/// Password of every demo member.
pub const DEMO_PASSWORD: &str = "demo-password";
/// How to log in, printed after seeding.
pub const DEMO_LOGIN_HINT: &str = "admin@demo.example / demo-password (or manager1@…, rep01@… with the same password)";

/// The seven stages of the demo's process (a common Japanese SFA process), then the lost stage.
pub const STAGES: &[(&str, &str, i32)] = &[
    ("inquiry", "問い合わせ", 5),
    ("hearing", "ヒアリング", 10),
    ("first_visit", "初訪問", 20),
    ("decision_maker", "決裁者へリーチ", 40),
    ("proposal", "提案", 60),
    ("agreement", "合意", 80),
    ("contract", "契約", 100),
];

const SURNAMES: &[&str] = &[
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "佐々木",
    "山口",
    "松本",
    "井上",
    "木村",
    "林",
    "斎藤",
    "清水",
];
const GIVEN: &[&str] = &[
    "翔太",
    "美咲",
    "大輔",
    "陽子",
    "健一",
    "由美",
    "拓也",
    "彩",
    "直樹",
    "恵",
    "亮",
    "真由美",
    "剛",
    "愛",
    "誠",
    "舞",
    "浩二",
    "優子",
    "隆",
    "千尋",
];
const COMPANY_WORDS: &[&str] = &[
    "東海",
    "北斗",
    "光和",
    "大和",
    "富士",
    "青葉",
    "三星",
    "日進",
    "明和",
    "昭栄",
    "丸紅",
    "中央",
    "新興",
    "朝日",
    "平和",
    "旭",
    "双葉",
    "常盤",
    "桜",
    "千代田",
];
const COMPANY_KINDS: &[&str] = &[
    "工業",
    "商事",
    "製作所",
    "システム",
    "物産",
    "建設",
    "電機",
    "化学",
    "食品",
    "運輸",
    "不動産",
    "メディカル",
];
const GROUPS: &[(&str, &str)] = &[
    ("製造業", "工場・メーカー"),
    ("小売・流通", "店舗・卸・物流"),
    ("IT・通信", "ソフトウェア・通信"),
    ("建設・不動産", "ゼネコン・デベロッパー"),
    ("医療・福祉", "病院・介護"),
    ("官公庁・教育", "自治体・学校"),
];
const PRODUCTS: &[(&str, &str, i64, bool)] = &[
    ("クラウド会計 Pro", "ソフトウェア", 480_000, true),
    ("勤怠管理クラウド", "ソフトウェア", 240_000, true),
    ("販売管理パッケージ", "ソフトウェア", 1_200_000, false),
    ("在庫最適化AI", "ソフトウェア", 2_400_000, true),
    ("業務用タブレット", "ハードウェア", 85_000, false),
    ("ハンディターミナル", "ハードウェア", 120_000, false),
    ("複合機リース", "ハードウェア", 36_000, false),
    ("ネットワーク構築", "サービス", 900_000, false),
    ("セキュリティ診断", "サービス", 600_000, true),
    ("導入コンサルティング", "サービス", 1_500_000, false),
    ("保守サポート(年間)", "サービス", 360_000, false),
    ("データ移行サービス", "サービス", 450_000, false),
    ("研修パッケージ", "サービス", 200_000, false),
    ("Web会議システム", "ソフトウェア", 150_000, false),
    ("電子契約サービス", "ソフトウェア", 180_000, false),
    ("BIダッシュボード", "ソフトウェア", 720_000, false),
    ("RPAライセンス", "ソフトウェア", 960_000, false),
    ("サーバー更改", "ハードウェア", 3_000_000, false),
    ("UPS電源装置", "ハードウェア", 250_000, false),
    ("クラウドバックアップ", "ソフトウェア", 120_000, false),
];
const DEPARTMENTS: &[&str] = &["営業部", "購買部", "情報システム部", "経営企画部", "総務部", "製造部"];
const LEVELS: &[(&str, &[&str])] = &[
    ("staff", &["担当", "主任"]),
    ("manager", &["課長", "部長"]),
    ("executive", &["取締役", "代表取締役"]),
];
const REACTIONS: &[&str] = &[
    "welcomed",
    "asked_questions",
    "met_executive",
    "requested_quote",
    "introduced_colleague",
    "shared_budget",
];
const LOST_REASONS: &[&str] = &[
    "価格で競合に負けた",
    "予算が確保できなかった",
    "時期尚早",
    "要件が合わなかった",
];
const ORIGINS: &[&str] = &["referral", "inbound", "outbound", "seminar", "existing_customer"];

/// How big a demo company to make.
#[derive(Debug, Clone, Copy)]
pub struct DemoSize {
    /// Number of customers.
    pub customers: usize,
    /// Months of history.
    pub months: u32,
}

impl Default for DemoSize {
    fn default() -> Self {
        Self {
            customers: 2000,
            months: 12,
        }
    }
}

/// Creates the demo company unless one exists; returns what was created.
pub async fn ensure_demo(
    db: &DatabaseConnection,
    plugins: &Plugins,
    seed: u64,
    size: DemoSize,
) -> AppResult<Option<String>> {
    let exists = company::Entity::find()
        .filter(company::Column::Slug.eq(DEMO_SLUG))
        .one(db)
        .await?
        .is_some();
    if exists {
        return Ok(None);
    }
    let today = Utc::now().date_naive();
    let hash = hash_password(DEMO_PASSWORD)?;
    let scoring = plugins.for_company(Some(DEMO_PLUGIN_SET));
    let data = Demo::generate(seed, size.customers, size.months, today, hash, Some(&scoring))?;
    let counts = data.counts();
    let txn = db.begin().await?;
    data.insert(&txn).await?;
    txn.commit().await?;
    Ok(Some(format!(
        "demo company created: {counts}\nlog in with {DEMO_LOGIN_HINT}"
    )))
}

/// An id from the seeded RNG, time-ordered like UUID v7.
fn id_at(rng: &mut StdRng, at: DateTime<Utc>) -> Uuid {
    let bytes: [u8; 10] = rng.random();
    uuid::Builder::from_unix_timestamp_millis(at.timestamp_millis().max(0) as u64, &bytes).into_uuid()
}

/// Every row of the demo company, generated before anything is written.
#[derive(Default)]
pub struct Demo {
    company: Vec<company::ActiveModel>,
    teams: Vec<team::ActiveModel>,
    members: Vec<member::ActiveModel>,
    groups: Vec<customer_group::ActiveModel>,
    customers: Vec<customer::ActiveModel>,
    contacts: Vec<contact::ActiveModel>,
    products: Vec<product::ActiveModel>,
    deals: Vec<deal::ActiveModel>,
    deal_members: Vec<deal_member::ActiveModel>,
    history: Vec<deal_stage_history::ActiveModel>,
    reports: Vec<daily_report::ActiveModel>,
    activities: Vec<activity::ActiveModel>,
    activity_contacts: Vec<activity_contact::ActiveModel>,
    activity_products: Vec<activity_product::ActiveModel>,
    reactions: Vec<activity_reaction::ActiveModel>,
    tasks: Vec<task::ActiveModel>,
    targets: Vec<target::ActiveModel>,
    sales: Vec<sales_record::ActiveModel>,
    touchpoints: Vec<touchpoint::ActiveModel>,
    snapshots: Vec<forecast_snapshot::ActiveModel>,
    comments: Vec<comment::ActiveModel>,
}

struct Rep {
    id: Uuid,
    manager: Uuid,
}

struct Cust {
    id: Uuid,
    owner: Uuid,
    contacts: Vec<Uuid>,
    last_contact: Option<DateTime<Utc>>,
}

fn at(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    // Office hours in Japan (UTC+9) expressed in UTC.
    let local = day.and_hms_opt(hour, minute, 0).unwrap_or_default();
    Utc.from_utc_datetime(&local) - Duration::hours(9)
}

fn workdays(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect()
}

impl Demo {
    /// Generates the company for `today`: `customers` customers and `months` of history.
    pub fn generate(
        seed: u64,
        customers: usize,
        months: u32,
        today: NaiveDate,
        password_hash: String,
        scoring: Option<&PluginSet>,
    ) -> AppResult<Self> {
        let mut contact_info: std::collections::HashMap<Uuid, (String, Option<String>)> = Default::default();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut d = Demo::default();
        let start = today - Duration::days(30 * months as i64);
        let t0 = at(start, 9, 0);
        let company_id = id_at(&mut rng, t0);
        d.company.push(company::ActiveModel {
            id: Set(company_id),
            name: Set("デモ商事株式会社".into()),
            slug: Set(DEMO_SLUG.into()),
            plugin_set: Set(Some(DEMO_PLUGIN_SET.into())),
            currency: Set("JPY".into()),
            time_zone: Set("Asia/Tokyo".into()),
            settings: Set(serde_json::json!({})),
            created_at: Set(t0),
            updated_at: Set(t0),
            disabled_at: Set(None),
            process_version: Set(None),
        });

        // Organisation: a head office with two departments and four teams.
        let mut name_of = {
            let mut n = 0usize;
            move || {
                n += 1;
                format!(
                    "{} {}",
                    SURNAMES[(n * 7) % SURNAMES.len()],
                    GIVEN[(n * 3) % GIVEN.len()]
                )
            }
        };
        let mut member = |rng: &mut StdRng, d: &mut Demo, email: String, role: Role, team: Option<Uuid>| {
            let id = id_at(rng, t0);
            d.members.push(member::ActiveModel {
                id: Set(id),
                company_id: Set(company_id),
                team_id: Set(team),
                email: Set(email),
                name: Set(name_of()),
                role: Set(role),
                password_hash: Set(password_hash.clone()),
                active: Set(true),
                token_version: Set(0),
                created_at: Set(t0),
                updated_at: Set(t0),
            });
            id
        };
        let team = |rng: &mut StdRng, d: &mut Demo, name: &str, parent: Option<Uuid>| {
            let id = id_at(rng, t0);
            d.teams.push(team::ActiveModel {
                id: Set(id),
                company_id: Set(company_id),
                parent_id: Set(parent),
                name: Set(name.into()),
                manager_id: Set(None),
                created_at: Set(t0),
                updated_at: Set(t0),
                deleted_at: Set(None),
            });
            id
        };
        let head = team(&mut rng, &mut d, "営業本部", None);
        let tokyo = team(&mut rng, &mut d, "東京営業部", Some(head));
        let osaka = team(&mut rng, &mut d, "大阪営業部", Some(head));
        let squads = [
            team(&mut rng, &mut d, "東京第1チーム", Some(tokyo)),
            team(&mut rng, &mut d, "東京第2チーム", Some(tokyo)),
            team(&mut rng, &mut d, "大阪第1チーム", Some(osaka)),
            team(&mut rng, &mut d, "インサイドセールス", Some(head)),
        ];
        member(&mut rng, &mut d, "admin@demo.example".into(), Role::Admin, Some(head));
        let mut reps = Vec::new();
        let mut managers = Vec::new();
        for (i, squad) in squads.iter().enumerate() {
            let manager = member(
                &mut rng,
                &mut d,
                format!("manager{}@demo.example", i + 1),
                Role::Manager,
                Some(*squad),
            );
            managers.push(manager);
            for _ in 0..6 {
                let n = reps.len() + 1;
                let id = member(
                    &mut rng,
                    &mut d,
                    format!("rep{n:02}@demo.example"),
                    Role::Rep,
                    Some(*squad),
                );
                reps.push(Rep { id, manager });
            }
        }
        let leads = [(head, managers[0]), (tokyo, managers[0]), (osaka, managers[2])];
        for (i, t) in d.teams.iter_mut().enumerate() {
            let id = *t.id.as_ref();
            let manager = leads
                .iter()
                .find(|(team, _)| *team == id)
                .map(|(_, m)| *m)
                .or_else(|| squads.iter().position(|s| *s == id).map(|p| managers[p]));
            t.manager_id = Set(manager.or(Some(managers[i % managers.len()])));
        }

        for (name, desc) in GROUPS {
            d.groups.push(customer_group::ActiveModel {
                id: Set(id_at(&mut rng, t0)),
                company_id: Set(company_id),
                name: Set((*name).into()),
                description: Set(Some((*desc).into())),
                created_at: Set(t0),
                updated_at: Set(t0),
                deleted_at: Set(None),
            });
        }
        let group_ids: Vec<Uuid> = d.groups.iter().map(|g| *g.id.as_ref()).collect();
        let mut product_ids = Vec::new();
        let mut focus = Vec::new();
        for (i, (name, category, price, is_focus)) in PRODUCTS.iter().enumerate() {
            let id = id_at(&mut rng, t0);
            product_ids.push((id, *price));
            if *is_focus {
                focus.push(id);
            }
            d.products.push(product::ActiveModel {
                id: Set(id),
                company_id: Set(company_id),
                code: Set(Some(format!("P{:04}", i + 1))),
                name: Set((*name).into()),
                category: Set(Some((*category).into())),
                is_focus: Set(*is_focus),
                unit_price: Set(Some(*price)),
                created_at: Set(t0),
                updated_at: Set(t0),
                deleted_at: Set(None),
            });
        }

        // Customers: spread across the reps, each with a book of about the same size.
        let mut custs = Vec::new();
        for i in 0..customers {
            let owner = reps[rng.random_range(0..reps.len())].id;
            let id = id_at(&mut rng, t0);
            let name = format!(
                "株式会社{}{}",
                COMPANY_WORDS[rng.random_range(0..COMPANY_WORDS.len())],
                COMPANY_KINDS[rng.random_range(0..COMPANY_KINDS.len())]
            );
            let status = match rng.random_range(0..10) {
                0..=3 => CustomerStatus::Prospect,
                4..=8 => CustomerStatus::Active,
                _ => CustomerStatus::Dormant,
            };
            d.customers.push(customer::ActiveModel {
                id: Set(id),
                company_id: Set(company_id),
                group_id: Set(Some(group_ids[rng.random_range(0..group_ids.len())])),
                owner_id: Set(owner),
                name: Set(format!("{name} {:04}", i + 1)),
                name_kana: Set(None),
                external_code: Set(Some(format!("C{:06}", i + 1))),
                is_priority: Set(rng.random_bool(0.1)),
                status: Set(status),
                industry: Set(None),
                address: Set(Some(format!(
                    "東京都千代田区丸の内{}-{}",
                    rng.random_range(1..4),
                    rng.random_range(1..20)
                ))),
                phone: Set(Some(format!(
                    "03-{:04}-{:04}",
                    rng.random_range(1000..9999),
                    rng.random_range(1000..9999)
                ))),
                website: Set(None),
                custom_fields: Set(serde_json::json!({})),
                last_contact_at: Set(None),
                version: Set(1),
                created_at: Set(t0),
                updated_at: Set(t0),
                deleted_at: Set(None),
            });
            let mut contacts = Vec::new();
            for _ in 0..rng.random_range(1..=4) {
                let (level, titles) = LEVELS[rng.random_range(0..LEVELS.len())];
                let cid = id_at(&mut rng, t0);
                contacts.push(cid);
                let department = (*DEPARTMENTS.choose(&mut rng).unwrap_or(&"営業部")).to_owned();
                contact_info.insert(cid, (level.to_owned(), Some(department.clone())));
                d.contacts.push(contact::ActiveModel {
                    external_code: Set(None),
                    id: Set(cid),
                    company_id: Set(company_id),
                    customer_id: Set(id),
                    name: Set(format!(
                        "{} {}",
                        SURNAMES.choose(&mut rng).unwrap_or(&"山田"),
                        GIVEN.choose(&mut rng).unwrap_or(&"太郎")
                    )),
                    name_kana: Set(None),
                    department: Set(Some(department)),
                    title: Set(Some((*titles.choose(&mut rng).unwrap_or(&"担当")).into())),
                    level: Set(level.into()),
                    email: Set(None),
                    phone: Set(None),
                    version: Set(1),
                    created_at: Set(t0),
                    updated_at: Set(t0),
                    deleted_at: Set(None),
                });
            }
            custs.push(Cust {
                id,
                owner,
                contacts,
                last_contact: None,
            });
        }

        // Deals across every stage, with the path that led there.
        let mut sold_by: std::collections::HashMap<(Uuid, NaiveDate), i64> = Default::default();
        let mut open_deals: Vec<(Uuid, usize)> = Vec::new();
        for (ci, cust) in custs.iter().enumerate() {
            if !rng.random_bool(0.6) {
                continue;
            }
            let owner = cust.owner;
            let created_day = start + Duration::days(rng.random_range(0..(30 * months as i64).max(1)));
            let created = at(created_day, 10, 0);
            let id = id_at(&mut rng, created);
            let reached = rng.random_range(0..STAGES.len());
            let lost = reached < STAGES.len() - 1 && rng.random_bool(0.2);
            let won = reached == STAGES.len() - 1;
            // The path fits between the deal's creation and now: no move lies in the future.
            let mut gaps: Vec<i64> = (0..=reached).map(|_| rng.random_range(3..25) * 24).collect();
            let room = (at(today, 9, 0) - created).num_hours().max(0);
            let total: i64 = gaps.iter().sum();
            if total > room {
                for g in &mut gaps {
                    *g = *g * room / total.max(1);
                }
            }
            let mut t = created;
            let mut from: Option<&str> = None;
            for (i, (key, _, _)) in STAGES[..=reached].iter().enumerate() {
                d.history.push(deal_stage_history::ActiveModel {
                    id: Set(id_at(&mut rng, t)),
                    company_id: Set(company_id),
                    deal_id: Set(id),
                    from_stage: Set(from.map(Into::into)),
                    to_stage: Set((*key).into()),
                    changed_by: Set(owner),
                    changed_at: Set(t),
                });
                from = Some(key);
                t += Duration::hours(gaps[i]);
            }
            if lost {
                d.history.push(deal_stage_history::ActiveModel {
                    id: Set(id_at(&mut rng, t)),
                    company_id: Set(company_id),
                    deal_id: Set(id),
                    from_stage: Set(from.map(Into::into)),
                    to_stage: Set("lost".into()),
                    changed_by: Set(owner),
                    changed_at: Set(t),
                });
            }
            let entered = *d.history.last().map(|h| h.changed_at.as_ref()).unwrap_or(&created);
            let amount = product_ids[rng.random_range(0..product_ids.len())].1 * rng.random_range(1..6);
            let status = if won {
                DealStatus::Won
            } else if lost {
                DealStatus::Lost
            } else {
                DealStatus::Open
            };
            let closed_at = (status != DealStatus::Open).then_some(entered.min(at(today, 9, 0)));
            if status == DealStatus::Open {
                open_deals.push((id, ci));
            }
            d.deals.push(deal::ActiveModel {
                id: Set(id),
                company_id: Set(company_id),
                customer_id: Set(cust.id),
                owner_id: Set(owner),
                name: Set(format!("{}導入案件", PRODUCTS[rng.random_range(0..PRODUCTS.len())].0)),
                stage: Set(if lost { "lost".into() } else { STAGES[reached].0.into() }),
                stage_entered_at: Set(entered),
                amount: Set(rng.random_bool(0.9).then_some(amount)),
                expected_close_date: Set(Some(today + Duration::days(rng.random_range(-30..120)))),
                status: Set(status),
                lost_reason: Set(lost.then(|| (*LOST_REASONS.choose(&mut rng).unwrap_or(&"時期尚早")).into())),
                origin: Set(Some((*ORIGINS.choose(&mut rng).unwrap_or(&"inbound")).into())),
                description: Set(None),
                closed_at: Set(closed_at),
                last_activity_at: Set(None),
                quality_maintainer_id: Set(None),
                version: Set(1),
                created_at: Set(created),
                updated_at: Set(entered),
                deleted_at: Set(None),
                external_code: Set(None),
            });
            d.deal_members.push(deal_member::ActiveModel {
                deal_id: Set(id),
                member_id: Set(owner),
                company_id: Set(company_id),
                role: Set(Some("sales".into())),
                added_at: Set(created),
            });
            if rng.random_bool(0.3) {
                let helper = reps[rng.random_range(0..reps.len())].id;
                if helper != owner {
                    d.deal_members.push(deal_member::ActiveModel {
                        deal_id: Set(id),
                        member_id: Set(helper),
                        company_id: Set(company_id),
                        role: Set(Some("engineering".into())),
                        added_at: Set(created),
                    });
                }
            }
            if won {
                for k in 0..rng.random_range(1..4) {
                    let (product, price) = product_ids[rng.random_range(0..product_ids.len())];
                    let sold = entered.date_naive() + Duration::days(30 * k);
                    let amount = price * rng.random_range(1..4);
                    if sold > today {
                        // An instalment still to come.
                        continue;
                    }
                    *sold_by.entry((owner, month_of(sold))).or_default() += amount;
                    d.sales.push(sales_record::ActiveModel {
                        id: Set(id_at(&mut rng, at(sold, 12, 0))),
                        company_id: Set(company_id),
                        customer_id: Set(cust.id),
                        product_id: Set(Some(product)),
                        member_id: Set(Some(owner)),
                        sold_on: Set(sold),
                        amount: Set(amount),
                        gross_profit: Set(amount * rng.random_range(20..45) / 100),
                        quantity: Set(Some(1)),
                        external_ref: Set(format!("S{:08}", d.sales.len() + 1)),
                        created_at: Set(at(sold, 12, 0)),
                    });
                }
            }
        }

        // Repeat business: active customers buy supplies and services most
        // months, so that every rep books sales month after month.
        let repeat: Vec<(Uuid, i64)> = product_ids
            .iter()
            .copied()
            .filter(|(_, price)| *price <= 300_000)
            .collect();
        let mut month = month_of(start);
        while month <= today && !repeat.is_empty() {
            for (cust, row) in custs.iter().zip(&d.customers) {
                if *row.status.as_ref() != CustomerStatus::Active || !rng.random_bool(0.3) {
                    continue;
                }
                let sold = month + Duration::days(rng.random_range(0..28));
                let (product, price) = repeat[rng.random_range(0..repeat.len())];
                let amount = price * rng.random_range(1..4);
                if sold > today {
                    continue;
                }
                *sold_by.entry((cust.owner, month_of(sold))).or_default() += amount;
                d.sales.push(sales_record::ActiveModel {
                    id: Set(id_at(&mut rng, at(sold, 12, 0))),
                    company_id: Set(company_id),
                    customer_id: Set(cust.id),
                    product_id: Set(Some(product)),
                    member_id: Set(Some(cust.owner)),
                    sold_on: Set(sold),
                    amount: Set(amount),
                    gross_profit: Set(amount * rng.random_range(25..50) / 100),
                    quantity: Set(Some(1)),
                    external_ref: Set(format!("S{:08}", d.sales.len() + 1)),
                    created_at: Set(at(sold, 12, 0)),
                });
            }
            month = month_of(month + Duration::days(32));
        }

        // A year of activities: done in the past, planned for the next two weeks,
        // recorded in daily reports. A few customers are never contacted.
        let mut by_owner: std::collections::HashMap<Uuid, Vec<usize>> = std::collections::HashMap::new();
        for (i, c) in custs.iter().enumerate() {
            if i % 17 != 0 {
                by_owner.entry(c.owner).or_default().push(i);
            }
        }
        let deal_of: std::collections::HashMap<usize, Uuid> = open_deals.iter().map(|(d, c)| (*c, *d)).collect();
        let deal_row: std::collections::HashMap<Uuid, usize> =
            d.deals.iter().enumerate().map(|(i, x)| (*x.id.as_ref(), i)).collect();
        let kinds = [
            ActivityKind::Visit,
            ActivityKind::Visit,
            ActivityKind::Call,
            ActivityKind::WebMeeting,
            ActivityKind::Email,
            ActivityKind::Seminar,
        ];
        let per_day = ((customers as f64 / 700.0).ceil() as u32).clamp(1, 3);
        for rep in &reps {
            let Some(mine) = by_owner.get(&rep.id) else { continue };
            for day in workdays(start, today + Duration::days(14)) {
                let past = day < today;
                let mut report_id = None;
                let mut slots = Vec::new();
                for slot in 0..rng.random_range(per_day..=per_day + 1) {
                    let ci = mine[rng.random_range(0..mine.len())];
                    slots.push((slot, ci));
                }
                if past && rng.random_bool(0.9) {
                    let rid = id_at(&mut rng, at(day, 18, 0));
                    report_id = Some(rid);
                    d.reports.push(daily_report::ActiveModel {
                        id: Set(rid),
                        company_id: Set(company_id),
                        member_id: Set(rep.id),
                        report_date: Set(day),
                        body: Set(format!(
                            "本日は{}件対応。次回提案に向けて資料を準備します。",
                            slots.len()
                        )),
                        submitted_at: Set(Some(at(day, 18, 30))),
                        version: Set(1),
                        created_at: Set(at(day, 18, 0)),
                        updated_at: Set(at(day, 18, 30)),
                    });
                    if rng.random_bool(0.15) {
                        let t = at(day, 19, 0);
                        d.comments.push(comment::ActiveModel {
                            id: Set(id_at(&mut rng, t)),
                            company_id: Set(company_id),
                            author_id: Set(rep.manager),
                            subject_type: Set(CommentSubject::DailyReport),
                            subject_id: Set(rid),
                            parent_id: Set(None),
                            body: Set("決裁者との面談を早めに設定しましょう。".into()),
                            created_at: Set(t),
                            updated_at: Set(t),
                            deleted_at: Set(None),
                        });
                    }
                }
                for (slot, ci) in slots {
                    let when = at(day, 10 + 2 * slot, 0);
                    let id = id_at(&mut rng, when);
                    let status = if !past {
                        ActivityStatus::Planned
                    } else if rng.random_bool(0.05) {
                        ActivityStatus::Cancelled
                    } else {
                        ActivityStatus::Done
                    };
                    let kind = *kinds.choose(&mut rng).unwrap_or(&ActivityKind::Visit);
                    let cust = &mut custs[ci];
                    let deal_id = deal_of.get(&ci).copied().filter(|_| rng.random_bool(0.7));
                    if status == ActivityStatus::Done {
                        cust.last_contact = cust.last_contact.max(Some(when));
                        if let Some(deal) = deal_id.and_then(|id| deal_row.get(&id)).map(|i| &mut d.deals[*i]) {
                            let prev = *deal.last_activity_at.as_ref();
                            deal.last_activity_at = Set(prev.max(Some(when)));
                        }
                    }
                    let met: Vec<Uuid> = cust.contacts.iter().copied().filter(|_| rng.random_bool(0.5)).collect();
                    for c in &met {
                        d.activity_contacts.push(activity_contact::ActiveModel {
                            activity_id: Set(id),
                            contact_id: Set(*c),
                            company_id: Set(company_id),
                        });
                    }
                    let mut seen: Vec<&str> = Vec::new();
                    if status == ActivityStatus::Done {
                        let mut shown = Vec::new();
                        for _ in 0..rng.random_range(0..3) {
                            let p = if rng.random_bool(0.5) {
                                *focus.choose(&mut rng).unwrap_or(&product_ids[0].0)
                            } else {
                                product_ids[rng.random_range(0..product_ids.len())].0
                            };
                            if !shown.contains(&p) {
                                shown.push(p);
                                d.activity_products.push(activity_product::ActiveModel {
                                    activity_id: Set(id),
                                    product_id: Set(p),
                                    company_id: Set(company_id),
                                });
                            }
                        }
                        for _ in 0..rng.random_range(0..3) {
                            let r = *REACTIONS.choose(&mut rng).unwrap_or(&"welcomed");
                            if !seen.contains(&r) {
                                seen.push(r);
                                d.reactions.push(activity_reaction::ActiveModel {
                                    activity_id: Set(id),
                                    reaction: Set(r.into()),
                                    company_id: Set(company_id),
                                });
                            }
                        }
                    }
                    let attendees = (met.len() as i32).max(1);
                    let energy = match (status, scoring) {
                        (ActivityStatus::Done, Some(set)) => {
                            let reactions: Vec<String> = seen.iter().map(|r| (*r).to_owned()).collect();
                            let contacts: Vec<_> = met.iter().filter_map(|c| contact_info.get(c).cloned()).collect();
                            let input = activity_input(kind.as_str(), attendees, Some(60), &reactions, &contacts);
                            Some((set.activity_points(input)?, set.scoring_version.clone()))
                        }
                        _ => None,
                    };
                    d.activities.push(activity::ActiveModel {
                        id: Set(id),
                        company_id: Set(company_id),
                        member_id: Set(rep.id),
                        customer_id: Set(cust.id),
                        deal_id: Set(deal_id),
                        daily_report_id: Set(if status == ActivityStatus::Done {
                            report_id
                        } else {
                            None
                        }),
                        kind: Set(kind),
                        status: Set(status),
                        subject: Set(match kind {
                            ActivityKind::Visit => "定期訪問".into(),
                            ActivityKind::Call => "電話フォロー".into(),
                            ActivityKind::WebMeeting => "オンライン商談".into(),
                            ActivityKind::Email => "資料送付".into(),
                            ActivityKind::Seminar => "セミナー参加".into(),
                            ActivityKind::Other => "その他".into(),
                        }),
                        scheduled_at: Set(when),
                        done_at: Set((status == ActivityStatus::Done).then_some(when + Duration::minutes(60))),
                        duration_minutes: Set(Some(60)),
                        attendee_count: Set(attendees),
                        notes: Set(
                            (status == ActivityStatus::Done).then(|| "課題のヒアリングを実施。前向きな反応。".into())
                        ),
                        outcome: Set(None),
                        energy_points: Set(energy.as_ref().map(|e| e.0)),
                        energy_version: Set(energy.map(|e| e.1)),
                        version: Set(1),
                        created_at: Set(when - Duration::days(3)),
                        updated_at: Set(when),
                        deleted_at: Set(None),
                        external_ref: Set(None),
                    });
                    if status == ActivityStatus::Done && rng.random_bool(0.2) {
                        let due = day + Duration::days(rng.random_range(3..21));
                        let done = due < today && rng.random_bool(0.75);
                        d.tasks.push(task::ActiveModel {
                            id: Set(id_at(&mut rng, when)),
                            company_id: Set(company_id),
                            title: Set(if rng.random_bool(0.5) {
                                "見積書を送付する".into()
                            } else {
                                "導入事例資料を届ける".into()
                            }),
                            description: Set(None),
                            kind: Set(TaskKind::CustomerPromise),
                            status: Set(if done { TaskStatus::Done } else { TaskStatus::Open }),
                            assignee_id: Set(rep.id),
                            creator_id: Set(rep.id),
                            due_date: Set(Some(due)),
                            customer_id: Set(Some(cust.id)),
                            deal_id: Set(deal_id),
                            activity_id: Set(Some(id)),
                            quote_id: Set(None),
                            completed_at: Set(done.then(|| at(due, 17, 0))),
                            version: Set(1),
                            created_at: Set(when),
                            updated_at: Set(when),
                            deleted_at: Set(None),
                            external_ref: Set(None),
                        });
                    }
                }
            }
        }
        for (cust, row) in custs.iter().zip(d.customers.iter_mut()) {
            row.last_contact_at = Set(cust.last_contact);
        }

        // Monthly targets per rep and team for the year so far. A sales
        // target is set so that a past month's attainment lies between 50 %
        // and 130 % (as plans and results go in a real company); the current
        // month's is the rep's usual month, so its attainment is the pace so far.
        let this_month = month_of(today);
        let mut month = NaiveDate::from_ymd_opt(start.year(), start.month(), 1).unwrap_or(start);
        while month <= today {
            let mut squad_sales = vec![0i64; squads.len()];
            for (i, rep) in reps.iter().enumerate() {
                let past: Vec<i64> = sold_by
                    .iter()
                    .filter(|((who, m), _)| *who == rep.id && *m != this_month)
                    .map(|(_, v)| *v)
                    .collect();
                let usual = (past.iter().sum::<i64>() / (past.len() as i64).max(1)).max(1_000_000);
                let actual = sold_by.get(&(rep.id, month)).copied().unwrap_or(0);
                let basis = if month == this_month || actual == 0 {
                    usual
                } else {
                    actual
                };
                let attainment = if month == this_month {
                    rng.random_range(0.8..1.2)
                } else {
                    rng.random_range(0.5..1.3)
                };
                let sales_target = ((basis as f64 / attainment) / 10_000.0).round() as i64 * 10_000;
                squad_sales[i / 6 % squads.len()] += sales_target;
                for (metric, value) in [
                    ("visits_done", 40),
                    ("appointments", 10),
                    ("focus_proposals", 8),
                    ("sales_amount", sales_target),
                ] {
                    d.targets
                        .push(target(&mut rng, company_id, Some(rep.id), None, month, metric, value));
                }
            }
            for (squad, value) in squads.iter().zip(squad_sales) {
                d.targets.push(target(
                    &mut rng,
                    company_id,
                    None,
                    Some(*squad),
                    month,
                    "sales_amount",
                    value,
                ));
            }
            month = NaiveDate::from_ymd_opt(month.year() + (month.month() / 12) as i32, month.month() % 12 + 1, 1)
                .unwrap_or(today);
        }

        for _ in 0..customers / 2 {
            let c = &custs[rng.random_range(0..custs.len())];
            let when = at(
                start + Duration::days(rng.random_range(0..(30 * months as i64).max(1))),
                13,
                0,
            );
            let (kind, details) = if rng.random_bool(0.7) {
                ("web_view", serde_json::json!({"page": "/products/cloud-accounting"}))
            } else {
                ("seminar", serde_json::json!({"title": "DX推進セミナー"}))
            };
            d.touchpoints.push(touchpoint::ActiveModel {
                external_ref: Set(None),
                id: Set(id_at(&mut rng, when)),
                company_id: Set(company_id),
                customer_id: Set(c.id),
                contact_id: Set(c.contacts.first().copied()),
                kind: Set(kind.into()),
                occurred_at: Set(when),
                details: Set(details),
                source: Set(Some("marketing".into())),
                created_at: Set(when),
            });
        }
        d.forecast_snapshots(&mut rng, company_id, today);
        Ok(d)
    }

    /// The weekly forecast snapshots the snapshot job would have taken over
    /// the last three months (each Monday, and each month's first day), each
    /// as the company stood at 9:00 that day: sales booked before the day,
    /// the deals open then in the stage they were in then, expected to close
    /// in the month (a deal closed since was expected when it closed). The
    /// job itself takes the current week's.
    fn forecast_snapshots(&mut self, rng: &mut StdRng, company_id: Uuid, today: NaiveDate) {
        use std::collections::{HashMap, HashSet};
        let probability: HashMap<&str, i64> = STAGES.iter().map(|(k, _, p)| (*k, i64::from(*p))).collect();
        let mut moves: HashMap<Uuid, Vec<(DateTime<Utc>, String)>> = HashMap::new();
        for h in &self.history {
            moves
                .entry(*h.deal_id.as_ref())
                .or_default()
                .push((*h.changed_at.as_ref(), h.to_stage.as_ref().clone()));
        }
        for m in moves.values_mut() {
            m.sort_by_key(|(t, _)| *t);
        }
        // Who each subject counts: a member itself, a team every member of its subtree.
        let parent: HashMap<Uuid, Option<Uuid>> = self
            .teams
            .iter()
            .map(|t| (*t.id.as_ref(), *t.parent_id.as_ref()))
            .collect();
        let in_team = |mut team: Option<Uuid>, of: Uuid| {
            while let Some(t) = team {
                if t == of {
                    return true;
                }
                team = parent.get(&t).copied().flatten();
            }
            false
        };
        let members: Vec<(Uuid, Option<Uuid>)> = self
            .members
            .iter()
            .filter(|m| *m.active.as_ref())
            .map(|m| (*m.id.as_ref(), *m.team_id.as_ref()))
            .collect();
        let mut subjects: Vec<(&str, Uuid, HashSet<Uuid>)> = members
            .iter()
            .map(|(id, _)| ("member", *id, HashSet::from([*id])))
            .collect();
        for team in parent.keys() {
            let of: HashSet<Uuid> = members
                .iter()
                .filter(|(_, t)| in_team(*t, *team))
                .map(|(id, _)| *id)
                .collect();
            subjects.push(("team", *team, of));
        }
        subjects.sort_by_key(|(kind, id, _)| (*kind, *id));
        let targets: HashMap<(Uuid, NaiveDate), i64> = self
            .targets
            .iter()
            .filter(|t| t.metric.as_ref() == "sales_amount")
            .map(|t| {
                let who = (*t.member_id.as_ref()).or(*t.team_id.as_ref());
                ((who.unwrap_or_default(), *t.period_start.as_ref()), *t.value.as_ref())
            })
            .collect();
        let monday = |d: NaiveDate| d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
        let this_week = monday(today);
        let first = month_of(month_of(today) - Duration::days(80));
        let mut days: Vec<NaiveDate> = first
            .iter_days()
            .take_while(|d| monday(*d) < this_week)
            .filter(|d| d.weekday() == Weekday::Mon || d.day() == 1)
            .collect();
        days.dedup();
        for day in days {
            let taken = at(day, 9, 0);
            let month = month_of(day);
            let next_month = month_of(month + Duration::days(32));
            for (kind, id, of) in &subjects {
                let (mut booked, mut profit) = (0i64, 0i64);
                for s in &self.sales {
                    let sold = *s.sold_on.as_ref();
                    if sold >= month && sold < day && s.member_id.as_ref().is_some_and(|m| of.contains(&m)) {
                        booked += *s.amount.as_ref();
                        profit += *s.gross_profit.as_ref();
                    }
                }
                let (mut deals, mut amount, mut weighted) = (0i64, 0i64, 0i64);
                for deal in &self.deals {
                    let closed = *deal.closed_at.as_ref();
                    if !of.contains(deal.owner_id.as_ref())
                        || *deal.created_at.as_ref() > taken
                        || closed.is_some_and(|c| c <= taken)
                    {
                        continue;
                    }
                    let expected = match closed {
                        Some(c) => Some((c + Duration::hours(9)).date_naive()),
                        None => *deal.expected_close_date.as_ref(),
                    };
                    if !expected.is_some_and(|e| e >= month && e < next_month) {
                        continue;
                    }
                    let stage = moves
                        .get(deal.id.as_ref())
                        .and_then(|m| m.iter().rev().find(|(t, _)| *t <= taken))
                        .map_or("", |(_, s)| s.as_str());
                    let value = deal.amount.as_ref().unwrap_or(0);
                    deals += 1;
                    amount += value;
                    weighted += value * probability.get(stage).copied().unwrap_or(0);
                }
                self.snapshots.push(forecast_snapshot::ActiveModel {
                    id: Set(id_at(rng, taken)),
                    company_id: Set(company_id),
                    subject_kind: Set((*kind).into()),
                    subject_id: Set(*id),
                    month: Set(month),
                    week_start: Set(monday(day)),
                    booked_sales: Set(booked),
                    gross_profit: Set(profit),
                    pipeline_deals: Set(deals),
                    pipeline_amount: Set(amount),
                    // Percent times amount, back to the minor unit, rounded half up.
                    weighted_amount: Set((weighted + 50).div_euclid(100)),
                    target: Set(targets.get(&(*id, month)).copied()),
                    taken_at: Set(taken),
                });
            }
        }
    }

    fn counts(&self) -> String {
        format!(
            "{} teams, {} members, {} customers, {} contacts, {} products, {} deals, {} activities, {} daily reports, {} tasks, {} targets, {} sales records",
            self.teams.len(),
            self.members.len(),
            self.customers.len(),
            self.contacts.len(),
            self.products.len(),
            self.deals.len(),
            self.activities.len(),
            self.reports.len(),
            self.tasks.len(),
            self.targets.len(),
            self.sales.len()
        )
    }

    async fn insert(self, db: &impl sea_orm::ConnectionTrait) -> AppResult<()> {
        bulk(db, self.company).await?;
        bulk(db, self.teams).await?;
        bulk(db, self.members).await?;
        bulk(db, self.groups).await?;
        bulk(db, self.customers).await?;
        bulk(db, self.contacts).await?;
        bulk(db, self.products).await?;
        bulk(db, self.deals).await?;
        bulk(db, self.deal_members).await?;
        bulk(db, self.history).await?;
        bulk(db, self.reports).await?;
        bulk(db, self.activities).await?;
        bulk(db, self.activity_contacts).await?;
        bulk(db, self.activity_products).await?;
        bulk(db, self.reactions).await?;
        bulk(db, self.tasks).await?;
        bulk(db, self.targets).await?;
        bulk(db, self.sales).await?;
        bulk(db, self.touchpoints).await?;
        bulk(db, self.comments).await?;
        bulk(db, self.snapshots).await?;
        Ok(())
    }
}

/// The first day of `day`'s month.
fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn target(
    rng: &mut StdRng,
    company_id: Uuid,
    member_id: Option<Uuid>,
    team_id: Option<Uuid>,
    month: NaiveDate,
    metric: &str,
    value: i64,
) -> target::ActiveModel {
    let t = at(month, 9, 0);
    target::ActiveModel {
        id: Set(id_at(rng, t)),
        company_id: Set(company_id),
        member_id: Set(member_id),
        team_id: Set(team_id),
        period_kind: Set(PeriodKind::Month),
        period_start: Set(month),
        metric: Set(metric.into()),
        value: Set(value),
        created_at: Set(t),
        updated_at: Set(t),
    }
}

/// Inserts rows in chunks small enough for both databases' parameter limits.
async fn bulk<A>(db: &impl sea_orm::ConnectionTrait, rows: Vec<A>) -> AppResult<()>
where
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(400).collect();
        A::Entity::insert_many(chunk).exec(db).await?;
    }
    Ok(())
}
