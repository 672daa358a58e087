//! Hand-written aggregate statements that run on both databases: numbered
//! parameters, scopes built by the query builder embedded as subqueries, and
//! the few expressions whose spelling differs.

use sea_orm::{DbBackend, Statement, Value, sea_query::SelectStatement};
use uuid::Uuid;

/// The values of a statement, numbered `$1, $2…` (SQLite reads `$N` as the
/// N-th parameter too). `$1` is always the company.
pub struct Params {
    backend: DbBackend,
    /// The values, in number order.
    pub values: Vec<Value>,
}

impl Params {
    /// Starts a statement for the company.
    pub fn new(backend: DbBackend, company_id: Uuid) -> Self {
        Self {
            backend,
            values: vec![company_id.into()],
        }
    }

    /// Adds a value; returns its placeholder.
    pub fn push(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        format!("${}", self.values.len())
    }

    /// The SQL of a builder-made query (a read scope with its filters), its
    /// placeholders renumbered after the values already taken, ready to
    /// embed as a subquery. The builder writes placeholders only for values,
    /// never inside names or literals, so renumbering them is safe.
    pub fn embed(&mut self, query: &SelectStatement) -> String {
        let Statement { sql, values, .. } = self.backend.build(query);
        let base = self.values.len();
        let mut out = String::with_capacity(sql.len() + 16);
        let mut chars = sql.chars().peekable();
        let mut seen = 0;
        while let Some(c) = chars.next() {
            match (self.backend, c) {
                (DbBackend::Postgres, '$') => {
                    let mut n = String::new();
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        n.push(d);
                    }
                    let n: usize = n.parse().unwrap_or(0);
                    out.push_str(&format!("${}", base + n));
                }
                (DbBackend::Sqlite, '?') => {
                    seen += 1;
                    out.push_str(&format!("${}", base + seen));
                }
                _ => out.push(c),
            }
        }
        self.values.extend(values.map(|v| v.0).unwrap_or_default());
        out
    }

    /// The statement.
    pub fn statement(self, sql: impl Into<String>) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }

    /// Days (with fractions) from `earlier` to `later`, two instants.
    pub fn days_between(&self, later: &str, earlier: &str) -> String {
        match self.backend {
            DbBackend::Postgres => {
                format!("(CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS DOUBLE PRECISION) / 86400.0)")
            }
            _ => format!("(julianday({later}) - julianday({earlier}))"),
        }
    }
}

#[cfg(test)]
mod tests {
    use entity::deal;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};

    use super::*;

    #[test]
    fn embedded_scopes_are_renumbered_after_the_values_taken() {
        let scope = deal::Entity::find()
            .select_only()
            .column(deal::Column::Id)
            .filter(deal::Column::CompanyId.eq(Uuid::nil()))
            .filter(deal::Column::Name.eq("a$1?"))
            .into_query();
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let mut p = Params::new(backend, Uuid::nil());
            let first = p.push(5);
            let sub = p.embed(&scope);
            assert_eq!(first, "$2");
            assert!(sub.contains("$3") && sub.contains("$4") && !sub.contains('?'), "{sub}");
            assert_eq!(p.values.len(), 4);
            assert_eq!(p.values[3], Value::from("a$1?"), "values stay values");
        }
    }
}
