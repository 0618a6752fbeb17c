//! A deterministic generator of cron expressions, mostly valid, for the differential corpus
//! and the property tests: each field picks from forms AWS's dialect has, with a few
//! mistakes mixed in so that validity is compared too.

/// A small xorshift generator: the same seed gives the same expressions on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u32, high: u32) -> u32 {
        low + u32::try_from(self.next() % u64::from(high - low + 1)).expect("fits")
    }

    pub fn chance(&mut self, percent: u32) -> bool {
        self.between(1, 100) <= percent
    }

    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[usize::try_from(self.next() % choices.len() as u64).expect("fits")]
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One plain item of a field with values `low..=high`: a value, a range or a step.
fn item(rng: &mut Rng, low: u32, high: u32, names: &[&str], steps: bool) -> String {
    let value = |rng: &mut Rng| {
        let number = rng.between(low, high);
        match names.get(usize::try_from(number - low).expect("fits")) {
            Some(name) if rng.chance(40) => (*name).to_string(),
            _ => number.to_string(),
        }
    };
    match rng.between(0, 9) {
        0..=3 => value(rng),
        4..=5 => {
            // Mostly ascending ranges; now and then one that wraps.
            let (mut from, mut to) = (rng.between(low, high), rng.between(low, high));
            if from > to && rng.chance(80) {
                std::mem::swap(&mut from, &mut to);
            }
            let show = |number: u32| match names.get(usize::try_from(number - low).expect("fits")) {
                Some(name) if number.is_multiple_of(2) => (*name).to_string(),
                _ => number.to_string(),
            };
            format!("{}-{}", show(from), show(to))
        }
        _ if steps => {
            let step = rng.between(1, (high - low).clamp(1, 20));
            match rng.between(0, 2) {
                0 => format!("*/{step}"),
                1 => format!("{}/{step}", rng.between(low, high)),
                _ => {
                    let from = rng.between(low, high);
                    let to = rng.between(from, high);
                    format!("{from}-{to}/{step}")
                }
            }
        }
        _ => value(rng),
    }
}

/// A plain field: `*`, or a list of one to three items.
fn plain(rng: &mut Rng, low: u32, high: u32, names: &[&str], steps: bool) -> String {
    if rng.chance(35) {
        return "*".to_string();
    }
    let count = match rng.between(0, 9) {
        0..=6 => 1,
        7..=8 => 2,
        _ => 3,
    };
    if count == 1 || rng.chance(15) {
        return (0..count)
            .map(|_| item(rng, low, high, names, steps))
            .collect::<Vec<_>>()
            .join(",");
    }
    // Most lists ascend, values and ranges, as people write them.
    let mut bounds: Vec<u32> = (0..count * 2).map(|_| rng.between(low, high)).collect();
    bounds.sort_unstable();
    bounds.dedup();
    let show = |number: u32| match names.get(usize::try_from(number - low).expect("fits")) {
        Some(name) if number.is_multiple_of(3) => (*name).to_string(),
        _ => number.to_string(),
    };
    bounds
        .chunks(2)
        .map(|pair| match pair {
            [from, to] if to - from <= 3 => format!("{},{}", show(*from), show(*to)),
            [from, to] => format!("{}-{}", show(*from), show(*to)),
            [value] => show(*value),
            _ => unreachable!("chunks of two"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn day_of_month(rng: &mut Rng) -> String {
    match rng.between(0, 9) {
        0 => "L".to_string(),
        1 => "LW".to_string(),
        2 => format!("{}W", rng.between(1, 31)),
        _ => plain(rng, 1, 31, &[], true),
    }
}

fn day_of_week(rng: &mut Rng) -> String {
    let day = |rng: &mut Rng| {
        let number = rng.between(1, 7);
        if rng.chance(40) {
            DAYS[usize::try_from(number - 1).expect("fits")].to_string()
        } else {
            number.to_string()
        }
    };
    match rng.between(0, 9) {
        0 => format!("{}L", day(rng)),
        1 => format!("{}#{}", day(rng), rng.between(1, 5)),
        2 if rng.chance(20) => "L".to_string(),
        _ => plain(rng, 1, 7, &DAYS, false),
    }
}

fn year(rng: &mut Rng) -> String {
    match rng.between(0, 9) {
        0..=5 => "*".to_string(),
        6 => rng.between(2023, 2040).to_string(),
        7 => {
            let from = rng.between(2020, 2035);
            format!("{from}-{}", rng.between(from, 2060))
        }
        8 => format!("{}/{}", rng.between(2020, 2030), rng.between(1, 5)),
        _ => format!("{},{}", rng.between(2024, 2026), rng.between(2027, 2035)),
    }
}

/// A cron expression as AWS writes it: almost always valid.
pub fn valid_cron(rng: &mut Rng) -> String {
    let minutes = plain(rng, 0, 59, &[], true);
    let hours = plain(rng, 0, 23, &[], true);
    let month = plain(rng, 1, 12, &MONTHS, true);
    let (dom, dow) = if rng.chance(60) {
        (day_of_month(rng), "?".to_string())
    } else {
        ("?".to_string(), day_of_week(rng))
    };
    format!("cron({minutes} {hours} {dom} {month} {dow} {})", year(rng))
}

/// A cron expression with, one time in four, one mistake of the kinds people make.
pub fn cron(rng: &mut Rng) -> String {
    let expression = valid_cron(rng);
    if !rng.chance(25) {
        return expression;
    }
    let inner = &expression["cron(".len()..expression.len() - 1];
    let mut fields: Vec<String> = inner.split(' ').map(str::to_string).collect();
    let field = usize::try_from(rng.between(0, 5)).expect("fits");
    match rng.between(0, 7) {
        // Both day fields given, or neither.
        0 => {
            fields[2] = "*".to_string();
            fields[4] = rng.pick(&["*", "MON", "2-6"]).to_string();
        }
        1 => {
            fields[2] = "?".to_string();
            fields[4] = "?".to_string();
        }
        // A value out of range.
        2 => {
            fields[field] = rng
                .pick(&["60", "24", "32", "13", "0", "8", "1969", "2200"])
                .to_string()
        }
        // A wildcard where it does not belong.
        3 => {
            fields[field] = rng
                .pick(&["L", "W", "?", "1#2", "3L", "15W", "LW"])
                .to_string()
        }
        // A step too large, or of zero.
        4 => {
            fields[field] = rng
                .pick(&["*/0", "*/60", "0/24", "1/32", "*/13"])
                .to_string()
        }
        // Five fields, or seven.
        5 => {
            if rng.chance(50) {
                fields.pop();
            } else {
                fields.insert(0, "0".to_string());
            }
        }
        // A list with a special wildcard.
        6 => fields[4] = rng.pick(&["3#1,6#3", "5L,6", "L,1"]).to_string(),
        // Junk.
        _ => {
            fields[field] = rng
                .pick(&["5x", "", "1-", "-5", "1,,2", "MONDAY", "JANUARY", "a"])
                .to_string()
        }
    }
    format!("cron({})", fields.join(" "))
}
