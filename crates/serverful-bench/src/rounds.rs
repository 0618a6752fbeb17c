//! Runs of several rounds: the order the contenders take within a round, and a figure's
//! median over the rounds with its range. On a shared machine a run tends to do better or
//! worse depending on what ran just before it, so the order alternates between rounds,
//! and a ratio between two contenders is taken within each round (where both met the
//! same conditions) before its median over the rounds.

/// The order in which `count` contenders (by their index in the contender list) run in
/// round `round` (from 1): the list's order in odd rounds, reversed in even ones, as
/// `bench-store` does.
pub fn order(count: usize, round: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    if round.is_multiple_of(2) {
        order.reverse();
    }
    order
}

/// A figure over the rounds where it was measured: its median (the mean of the middle two
/// for an even count), lowest and highest, and how many rounds gave it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub lowest: f64,
    pub highest: f64,
    pub count: usize,
}

impl Spread {
    /// The spread of the finite values, or `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        let median = crate::store_report::median(&mut values)?;
        Some(Spread {
            median,
            lowest: values[0],
            highest: values[values.len() - 1],
            count: values.len(),
        })
    }

    /// The median of what `figure` gives in each round where it gives something: with
    /// `figure` a ratio within a round, the median of the per-round ratios.
    pub fn per_round<R>(rounds: &[R], figure: impl Fn(&R) -> Option<f64>) -> Option<Spread> {
        Spread::of(rounds.iter().filter_map(figure))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_other_round_runs_in_reverse() {
        assert_eq!(order(3, 1), vec![0, 1, 2]);
        assert_eq!(order(3, 2), vec![2, 1, 0]);
        assert_eq!(order(3, 3), vec![0, 1, 2]);
        assert_eq!(order(0, 2), Vec::<usize>::new());
        // Over two rounds every contender runs once in each half of the order but the middle.
        let first = order(4, 1);
        let second = order(4, 2);
        for contender in 0..4 {
            let a = first
                .iter()
                .position(|&c| c == contender)
                .expect("in round 1");
            let b = second
                .iter()
                .position(|&c| c == contender)
                .expect("in round 2");
            assert_eq!(a + b, 3);
        }
    }

    #[test]
    fn medians_of_per_round_ratios_not_ratios_of_medians() {
        // Two contenders over three rounds: (ours, theirs) req/s.
        let rounds = [(1200.0, 100.0), (600.0, 100.0), (900.0, 30.0)];
        let ratio = Spread::per_round(&rounds, |&(ours, theirs): &(f64, f64)| Some(ours / theirs))
            .expect("three ratios");
        assert_eq!(ratio.median, 12.0);
        assert_eq!(ratio.lowest, 6.0);
        assert_eq!(ratio.highest, 30.0);
        assert_eq!(ratio.count, 3);
        // The ratio of the medians would be 900 / 100 = 9.
        let ours = Spread::of(rounds.iter().map(|r| r.0))
            .expect("values")
            .median;
        let theirs = Spread::of(rounds.iter().map(|r| r.1))
            .expect("values")
            .median;
        assert_eq!(ours / theirs, 9.0);
    }

    #[test]
    fn rounds_without_the_figure_are_left_out() {
        let rounds = [Some(3.0), None, Some(1.0), Some(f64::NAN)];
        let spread = Spread::per_round(&rounds, |value| *value).expect("two values");
        assert_eq!(spread.median, 2.0);
        assert_eq!(spread.count, 2);
        assert_eq!(Spread::per_round(&[None::<f64>], |value| *value), None);
    }
}
