//! Day partitions of the occurrences table, where the database has
//! declarative partitioning (PostgreSQL): a row goes to the day of its last
//! occurrence (UTC), rows without one to the default partition. Retention
//! then drops whole days — their space goes back to the file system, which
//! deleting rows never does on PostgreSQL — and a query with `--since`
//! reads only the days it covers.

use super::StoreError;
use super::core::Conn;
use super::plan::Pruned;
use super::rows::{Occurrence, Param};

const DAY_MS: i64 = 86_400_000;

/// The partition a row with this last occurrence goes to: its name and the
/// day's bounds (`[from, to)` in Unix ms).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    pub from_ms: i64,
}

impl Day {
    pub fn of(ms: i64) -> Day {
        Day {
            from_ms: ms.div_euclid(DAY_MS) * DAY_MS,
        }
    }

    pub fn to_ms(&self) -> i64 {
        self.from_ms + DAY_MS
    }

    /// `occurrences_d20261130`.
    pub fn table(&self) -> String {
        let date = jiff::Timestamp::from_millisecond(self.from_ms)
            .map(|t| {
                t.to_zoned(jiff::tz::TimeZone::UTC)
                    .date()
                    .strftime("%Y%m%d")
                    .to_string()
            })
            .unwrap_or_else(|_| format!("x{}", self.from_ms / DAY_MS));
        format!("occurrences_d{date}")
    }

    /// The day a partition's name stands for.
    pub fn parse(table: &str) -> Option<Day> {
        let date = table.strip_prefix("occurrences_d")?;
        let date = jiff::civil::Date::strptime("%Y%m%d", date).ok()?;
        let ts = date.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
        Some(Day {
            from_ms: ts.as_millisecond(),
        })
    }

    fn create_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF occurrences FOR VALUES FROM ({}) TO ({})",
            self.table(),
            self.from_ms,
            self.to_ms()
        )
    }
}

/// The days `rows` fall on, each once.
pub fn days(rows: &[Occurrence]) -> Vec<Day> {
    let mut days: Vec<Day> = rows.iter().filter_map(|r| r.last_ms).map(Day::of).collect();
    days.sort();
    days.dedup();
    days
}

/// Serialises the creation of partitions between writers.
const CREATE_LOCK: &str = "SELECT pg_advisory_xact_lock(7734002)";

/// The partitions of `days` that do not exist yet.
async fn missing<C: Conn>(c: &mut C, days: &[Day]) -> Result<Vec<Day>, StoreError> {
    let names: Vec<String> = days.iter().map(Day::table).collect();
    let mut missing = Vec::new();
    c.each(
        "SELECT name FROM UNNEST($1::text[]) AS t(name) WHERE to_regclass(name) IS NULL",
        &[Param::Texts(names)],
        &mut |r| {
            if let Some(day) = Day::parse(&r.text("name")?) {
                missing.push(day);
            }
            Ok(())
        },
    )
    .await?;
    Ok(missing)
}

/// Create the partitions of `days` that are missing, inside the caller's
/// transaction. Cheap when they exist (one lookup); otherwise writers take
/// turns, and each looks again once it has the lock.
pub async fn ensure<C: Conn>(c: &mut C, days: &[Day]) -> Result<(), StoreError> {
    if days.is_empty() || missing(c, days).await?.is_empty() {
        return Ok(());
    }
    c.batch(CREATE_LOCK).await?;
    for day in missing(c, days).await? {
        c.batch(&day.create_sql()).await?;
    }
    Ok(())
}

/// The day partitions there are, oldest first.
pub async fn list<C: Conn>(c: &mut C) -> Result<Vec<Day>, StoreError> {
    let mut days = Vec::new();
    c.each(
        "SELECT CAST(c.relname AS TEXT) AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST('occurrences' AS regclass)",
        &[],
        &mut |r| {
            if let Some(day) = Day::parse(&r.text("name")?) {
                days.push(day);
            }
            Ok(())
        },
    )
    .await?;
    days.sort();
    Ok(days)
}

/// Drop the partition of `day`, counting its rows into `deleted`.
pub async fn drop<C: Conn>(c: &mut C, day: &Day, deleted: &mut Pruned) -> Result<(), StoreError> {
    let table = day.table();
    c.each(
        &format!("SELECT event_key, occurrences FROM {table}"),
        &[],
        &mut |r| deleted.add_row(r),
    )
    .await?;
    c.batch(&format!("DROP TABLE {table}")).await?;
    deleted.partitions += 1;
    Ok(())
}

/// Move the rows of an unpartitioned `occurrences_v3` (an older store)
/// into day partitions, then drop it.
pub async fn fill_from_v3<C: Conn>(c: &mut C) -> Result<(), StoreError> {
    let mut found = Vec::new();
    c.each(
        "SELECT DISTINCT CAST(FLOOR(last_ms / 86400000.0) AS BIGINT) * 86400000 AS day FROM occurrences_v3 WHERE last_ms IS NOT NULL",
        &[],
        &mut |r| {
            found.push(Day::of(r.int("day")?));
            Ok(())
        },
    )
    .await?;
    for day in &found {
        c.batch(&day.create_sql()).await?;
    }
    c.batch(
        "INSERT INTO occurrences OVERRIDING SYSTEM VALUE SELECT * FROM occurrences_v3; \
         DROP TABLE occurrences_v3; \
         SELECT setval(pg_get_serial_sequence('occurrences', 'id'), GREATEST((SELECT MAX(id) FROM occurrences), 0) + 1, false)",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_named_by_its_utc_date_and_read_back() {
        let at = jiff::Timestamp::from_second(1_764_501_000).unwrap(); // 2025-11-30T11:10Z
        let day = Day::of(at.as_millisecond());
        assert_eq!(day.table(), "occurrences_d20251130");
        assert!(day.from_ms <= at.as_millisecond() && at.as_millisecond() < day.to_ms());
        assert_eq!(Day::parse(&day.table()), Some(day.clone()));
        assert_eq!(Day::parse("occurrences_default"), None);
        // Before 1970 the day still starts at midnight.
        assert_eq!(Day::of(-1).from_ms, -DAY_MS);
        assert!(
            day.create_sql()
                .contains("FOR VALUES FROM (1764460800000) TO (1764547200000)")
        );
    }
}
