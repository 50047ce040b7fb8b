//! TaskGroup failure propagation, shield, and selection over tasks.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use concur::{aio, ReturnWhen, TaskError};

#[test]
fn a_failing_child_cancels_its_siblings_and_is_reported() {
    aio::run(async {
        let cancelled = Rc::new(Cell::new(0));
        let group = aio::TaskGroup::new();
        for _ in 0..5 {
            let c = cancelled.clone();
            group.spawn(async move {
                struct Count(Rc<Cell<u32>>);
                impl Drop for Count {
                    fn drop(&mut self) {
                        self.0.set(self.0.get() + 1);
                    }
                }
                let _g = Count(c);
                aio::sleep(Duration::from_secs(3600)).await;
            });
        }
        group.spawn(async {
            aio::sleep(Duration::from_millis(1)).await;
            panic!("database unreachable");
        });
        let err = group.join().await.unwrap_err();
        assert_eq!(err, TaskError::Panicked("database unreachable".into()));
        assert_eq!(
            cancelled.get(),
            5,
            "every sibling was cancelled and dropped"
        );
    });
}

#[test]
fn join_waits_for_every_child() {
    aio::run(async {
        let done = Rc::new(Cell::new(0));
        let group = aio::TaskGroup::new();
        for i in 0..10u64 {
            let d = done.clone();
            group.spawn(async move {
                aio::sleep(Duration::from_millis(i)).await;
                d.set(d.get() + 1);
            });
        }
        group.join().await.unwrap();
        assert_eq!(done.get(), 10);
    });
}

#[test]
fn dropping_a_group_cancels_its_children() {
    aio::run(async {
        let group = aio::TaskGroup::new();
        let child = group.spawn(aio::sleep(Duration::from_secs(3600)));
        drop(group);
        assert_eq!(child.await, Err(TaskError::Cancelled));
    });
}

#[test]
fn shielded_work_survives_its_awaiter() {
    aio::run(async {
        let finished = Rc::new(Cell::new(false));
        let f = finished.clone();
        let work = aio::shield(async move {
            aio::sleep(Duration::from_millis(5)).await;
            f.set(true);
        });
        assert!(aio::timeout(Duration::from_millis(1), work).await.is_err());
        aio::sleep(Duration::from_millis(30)).await;
        assert!(finished.get());
    });
}

#[test]
fn wait_first_error_and_timeout() {
    aio::run(async {
        let tasks = vec![
            aio::spawn(async {
                aio::sleep(Duration::from_secs(3600)).await;
                1
            }),
            aio::spawn(async { 2 }),
            aio::spawn(async {
                aio::sleep(Duration::from_millis(2)).await;
                panic!("boom")
            }),
        ];
        let w = aio::wait(&tasks, ReturnWhen::FirstError, None).await;
        assert_eq!((w.done, w.not_done), (vec![1, 2], vec![0]));
        let w = aio::wait(
            &tasks,
            ReturnWhen::AllCompleted,
            Some(Duration::from_millis(5)),
        )
        .await;
        assert_eq!(w.not_done, vec![0]);
        tasks[0].cancel();
        let w = aio::wait(&tasks, ReturnWhen::AllCompleted, None).await;
        assert_eq!(w.done, vec![0, 1, 2]);
    });
}

#[test]
fn as_completed_and_gather_scale_to_many_tasks() {
    aio::run(async {
        let tasks = (0..5000u64).map(|i| {
            aio::spawn(async move {
                aio::sleep(Duration::from_millis(i % 7)).await;
                i
            })
        });
        let mut done = aio::as_completed(tasks);
        let mut seen = vec![false; 5000];
        while let Some((i, outcome)) = done.next().await {
            assert_eq!(outcome, Ok(i as u64));
            assert!(!seen[i], "each task once");
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s));
        let out = aio::gather((0..10_000u64).map(|i| async move {
            aio::yield_now().await;
            i
        }))
        .await;
        assert_eq!(out, (0..10_000).collect::<Vec<_>>());
    });
}

#[test]
fn a_fallible_child_that_returns_err_fails_the_group_and_cancels_the_rest() {
    aio::run(async {
        let group = aio::TaskGroup::new();
        let fine = group.spawn_fallible(async { Ok::<u32, String>(1) });
        let pending = group.spawn(std::future::pending::<()>());
        let bad = group.spawn_fallible(async {
            aio::yield_now().await;
            Err::<u32, String>("disk full".into())
        });
        let err = group.join().await.unwrap_err();
        assert_eq!(err, TaskError::Failed("disk full".into()));
        assert_eq!(fine.await, Ok(Ok(1)));
        assert_eq!(bad.await, Ok(Err("disk full".into())));
        assert_eq!(pending.await, Err(TaskError::Cancelled));
    });
}

#[test]
fn fallible_children_that_succeed_leave_the_group_whole() {
    aio::run(async {
        let group = aio::TaskGroup::new();
        let hs: Vec<_> = (0..10u32)
            .map(|i| group.spawn_fallible(async move { Ok::<u32, String>(i) }))
            .collect();
        assert_eq!(group.join().await, Ok(()));
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.await, Ok(Ok(i as u32)));
        }
    });
}

#[test]
fn join_next_reports_each_child_as_it_finishes_with_how_it_ended() {
    // tokio tokio/tests/task_join_set.rs test_with_sleep (join_next until None), adapted
    aio::run(async {
        let group = aio::TaskGroup::new();
        let gate = std::rc::Rc::new(aio::sync::Event::new());
        let g = gate.clone();
        let late = group.spawn(async move { g.wait().await });
        let early = group.spawn(async { 7 });
        let doomed = group.spawn(std::future::pending::<()>());
        assert_eq!(group.len(), 3);
        assert_eq!(group.join_next().await, Some((early.id(), Ok(()))));
        assert!(doomed.cancel());
        assert_eq!(
            group.join_next().await,
            Some((doomed.id(), Err(concur::TaskError::Cancelled)))
        );
        gate.set();
        assert_eq!(group.join_next().await, Some((late.id(), Ok(()))));
        assert_eq!(group.join_next().await, None);
        assert!(group.is_empty());
        assert_eq!(early.await, Ok(7));
    });
}
