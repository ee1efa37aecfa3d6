//! Matching replies that carry no request id (server time, managed accounts) to the requests
//! that asked for them.
//!
//! A gateway answers in order, so the oldest unanswered request owns the next reply. A request
//! that times out keeps its place in the queue: when its reply comes after all, it is
//! recognised as that request's late reply (with its true round trip), never credited to the
//! request behind it. While a timed-out request is still unanswered, no new request of the
//! kind may be sent ([`InOrder::overdue`]): were its reply never to come, every later reply
//! would shift by one, so the caller refuses instead, and a connection that stays silent gets
//! replaced by the supervisor.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// A reply and when it arrived.
#[derive(Debug)]
pub(crate) struct Answer<T> {
    pub(crate) value: T,
    pub(crate) at: Instant,
}

/// What became of a reply handed to [`InOrder::deliver`].
#[derive(Debug, PartialEq)]
pub(crate) enum Delivered<T> {
    /// Its request was still waiting and has it now.
    Answered,
    /// Its request had timed out: the reply is late by `rtt`, measured from the request.
    Late {
        /// The tag given to [`InOrder::time_out`] (the protocol id of a ping).
        tag: Option<u64>,
        /// The true round trip.
        rtt: Duration,
        /// The reply.
        value: T,
    },
    /// Nobody asked (an unsolicited message, or one whose waiter went away).
    Unasked(T),
}

enum State<T> {
    Waiting(oneshot::Sender<Answer<T>>),
    TimedOut { tag: Option<u64> },
}

struct Waiter<T> {
    id: u64,
    sent: Instant,
    state: State<T>,
}

/// Requests of one kind awaiting replies, oldest first.
pub(crate) struct InOrder<T> {
    waiting: VecDeque<Waiter<T>>,
    next_id: u64,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        Self {
            waiting: VecDeque::new(),
            next_id: 1,
        }
    }
}

impl<T> InOrder<T> {
    /// How long ago the oldest timed-out request was sent, if one is still unanswered.
    pub(crate) fn overdue(&self, now: Instant) -> Option<Duration> {
        self.waiting
            .iter()
            .find(|w| matches!(w.state, State::TimedOut { .. }))
            .map(|w| now.saturating_duration_since(w.sent))
    }

    /// Queues a request sent at `sent`; returns its id and where its reply will arrive.
    pub(crate) fn push(&mut self, sent: Instant) -> (u64, oneshot::Receiver<Answer<T>>) {
        let id = self.next_id;
        self.next_id += 1;
        let (sender, receiver) = oneshot::channel();
        self.waiting.push_back(Waiter {
            id,
            sent,
            state: State::Waiting(sender),
        });
        (id, receiver)
    }

    /// Marks request `id` as timed out, keeping its place; `false` when it was answered
    /// meanwhile (its receiver holds the answer).
    pub(crate) fn time_out(&mut self, id: u64, tag: Option<u64>) -> bool {
        match self.waiting.iter_mut().find(|w| w.id == id) {
            Some(waiter) => {
                waiter.state = State::TimedOut { tag };
                true
            }
            None => false,
        }
    }

    /// Hands a reply that arrived at `at` to the oldest request.
    pub(crate) fn deliver(&mut self, value: T, at: Instant) -> Delivered<T> {
        let Some(waiter) = self.waiting.pop_front() else {
            return Delivered::Unasked(value);
        };
        match waiter.state {
            State::Waiting(sender) => match sender.send(Answer { value, at }) {
                Ok(()) => Delivered::Answered,
                // The caller went away (a cancelled request): the reply was still its own.
                Err(answer) => Delivered::Unasked(answer.value),
            },
            State::TimedOut { tag } => Delivered::Late {
                tag,
                rtt: at.saturating_duration_since(waiter.sent),
                value,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_go_to_requests_in_order() {
        let t0 = Instant::now();
        let mut queue = InOrder::default();
        let (_, mut first) = queue.push(t0);
        let (_, mut second) = queue.push(t0);
        assert_eq!(queue.deliver(1, t0), Delivered::Answered);
        assert_eq!(queue.deliver(2, t0), Delivered::Answered);
        assert_eq!(first.try_recv().unwrap().value, 1);
        assert_eq!(second.try_recv().unwrap().value, 2);
        assert_eq!(queue.deliver(3, t0), Delivered::Unasked(3));
    }

    #[test]
    fn a_late_reply_belongs_to_the_request_that_timed_out_not_the_next() {
        let t0 = Instant::now();
        let mut queue = InOrder::default();
        let (late, _first) = queue.push(t0);
        assert!(queue.time_out(late, Some(41)));
        assert_eq!(
            queue.overdue(t0 + Duration::from_millis(900)),
            Some(Duration::from_millis(900)),
            "the timed-out request is still owed a reply"
        );
        let (_, mut next) = queue.push(t0 + Duration::from_secs(1));
        let arrival = t0 + Duration::from_millis(1_500);
        assert_eq!(
            queue.deliver(10, arrival),
            Delivered::Late {
                tag: Some(41),
                rtt: Duration::from_millis(1_500),
                value: 10
            },
            "the first reply is the timed-out request's, with its true round trip"
        );
        assert!(
            next.try_recv().is_err(),
            "the next request is still waiting"
        );
        assert_eq!(queue.overdue(arrival), None);
        assert_eq!(queue.deliver(11, arrival), Delivered::Answered);
        assert_eq!(next.try_recv().unwrap().value, 11);
    }

    #[test]
    fn a_request_answered_before_its_timeout_is_marked_cannot_time_out() {
        let t0 = Instant::now();
        let mut queue = InOrder::default();
        let (id, mut receiver) = queue.push(t0);
        queue.deliver(5, t0);
        assert!(!queue.time_out(id, None));
        assert_eq!(receiver.try_recv().unwrap().value, 5);
    }

    #[test]
    fn dropping_the_queue_closes_every_waiting_caller() {
        let mut queue: InOrder<u8> = InOrder::default();
        let (_, mut receiver) = queue.push(Instant::now());
        drop(queue);
        assert!(matches!(
            receiver.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
    }
}
