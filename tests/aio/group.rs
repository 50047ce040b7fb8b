//! TaskGroup failure propagation, shield, and selection over tasks.

use std::cell::{Cell, RefCell};
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

#[test]
fn a_child_failure_cancels_the_scope_body_and_every_failure_is_reported() {
    // CPython Lib/test/test_asyncio/test_taskgroups.py TestTaskGroup.test_taskgroup_07
    // (the body is cancelled when a child fails; the error group reaches the caller)
    aio::run(async {
        let group = aio::TaskGroup::new();
        let tg = group.spawner();
        let body_reached_the_end = Rc::new(Cell::new(false));
        let body_dropped = Rc::new(Cell::new(false));
        let (reached, dropped) = (body_reached_the_end.clone(), body_dropped.clone());
        let out = group
            .scope(async move {
                struct OnDrop(Rc<Cell<bool>>);
                impl Drop for OnDrop {
                    fn drop(&mut self) {
                        self.0.set(true);
                    }
                }
                let _guard = OnDrop(dropped);
                tg.spawn(async {
                    aio::yield_now().await;
                    panic!("child failed");
                });
                aio::sleep(Duration::from_secs(3600)).await;
                reached.set(true);
            })
            .await;
        let err = out.unwrap_err();
        assert_eq!(err.errors(), [TaskError::Panicked("child failed".into())]);
        assert!(body_dropped.get(), "the body was cancelled");
        assert!(!body_reached_the_end.get());
    });
}

#[test]
fn a_scope_returns_its_body_value_once_every_child_has_finished() {
    // CPython Lib/test/test_asyncio/test_taskgroups.py TestTaskGroup.test_taskgroup_01
    aio::run(async {
        let group = aio::TaskGroup::new();
        let tg = group.spawner();
        let finished = Rc::new(Cell::new(0));
        let f = finished.clone();
        let out = group
            .scope(async move {
                for i in 1..=3u64 {
                    let f = f.clone();
                    tg.spawn(async move {
                        aio::sleep(Duration::from_millis(i)).await;
                        f.set(f.get() + 1);
                    });
                }
                "body done"
            })
            .await;
        assert_eq!(out, Ok("body done"));
        assert_eq!(finished.get(), 3, "scope waited for the children");
    });
}

#[test]
fn a_panicking_scope_body_cancels_the_children_and_unwinds() {
    // CPython Lib/test/test_asyncio/test_taskgroups.py TestTaskGroup.test_taskgroup_09
    // (an error in the body cancels the children, then propagates)
    struct OnDrop(Rc<Cell<bool>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    aio::run(async {
        let child_dropped = Rc::new(Cell::new(false));
        let d = child_dropped.clone();
        let group = aio::TaskGroup::new();
        let tg = group.spawner();
        let scope = aio::spawn(group.scope(async move {
            tg.spawn(async move {
                let _guard = OnDrop(d);
                std::future::pending::<()>().await
            });
            aio::yield_now().await;
            panic!("body failed");
        }));
        // The scope's task ends with the body's panic, after the child was cancelled
        // (the loop is still running: only the group can have dropped the child).
        assert_eq!(scope.await, Err(TaskError::Panicked("body failed".into())));
        assert!(child_dropped.get());
    });
}

#[test]
fn children_add_tasks_to_their_own_group_and_join_waits_for_them() {
    // CPython Lib/test/test_asyncio/test_taskgroups.py TestTaskGroup.test_taskgroup_20
    // (tasks created by tasks of the group belong to it)
    aio::run(async {
        let group = aio::TaskGroup::new();
        let spawner = group.spawner();
        let depth_reached = Rc::new(Cell::new(0));
        fn grow(s: aio::GroupSpawner, depth: u32, seen: Rc<Cell<u32>>) {
            let s2 = s.clone();
            s.spawn(async move {
                aio::yield_now().await;
                seen.set(seen.get().max(depth));
                if depth < 5 {
                    grow(s2, depth + 1, seen);
                }
            });
        }
        grow(spawner, 1, depth_reached.clone());
        group.join().await.unwrap();
        assert_eq!(depth_reached.get(), 5);
    });
}

#[test]
fn a_task_added_after_the_group_was_joined_is_cancelled_at_once() {
    // CPython Lib/test/test_asyncio/test_taskgroups.py TestTaskGroup.test_taskgroup_08
    // (create_task on a finished group is refused)
    aio::run(async {
        let group = aio::TaskGroup::new();
        let spawner = group.spawner();
        group.join().await.unwrap();
        let late = spawner.spawn(async { 1 });
        assert_eq!(late.await, Err(TaskError::Cancelled));
    });
}

#[test]
fn a_nested_group_failure_reaches_the_outer_group_nested_whole() {
    // CPython Lib/test/test_asyncio/test_taskgroups.py TestTaskGroup.test_taskgroup_13
    // (nested groups: the inner error group is reported by the outer one)
    aio::run(async {
        let outer = aio::TaskGroup::new();
        outer.spawn_fallible(async {
            let inner = aio::TaskGroup::new();
            inner.spawn_fallible(async { Err::<(), _>("inner disk full") });
            inner.join().await
        });
        let err = outer.join().await.unwrap_err();
        assert_eq!(err.errors().len(), 1);
        // Nested whole, as asyncio nests an ExceptionGroup in the outer one.
        let TaskError::Group(inner) = &err.errors()[0] else {
            panic!("{err}");
        };
        assert_eq!(
            inner.errors(),
            [TaskError::Failed("inner disk full".into())]
        );
        let msg = err.to_string();
        assert!(
            msg.contains("1 task of the group failed") && msg.contains("inner disk full"),
            "{msg}"
        );
    });
}

#[test]
fn a_child_cancelled_by_its_own_handle_is_not_a_group_failure() {
    // CPython Lib/test/test_asyncio/test_taskgroups.py TestTaskGroup.test_taskgroup_11
    // (a child's own cancellation does not fail the group)
    aio::run(async {
        let group = aio::TaskGroup::new();
        let child = group.spawn(std::future::pending::<()>());
        let other = group.spawn(async { 3 });
        child.cancel();
        assert_eq!(group.join().await, Ok(()));
        assert_eq!(child.await, Err(TaskError::Cancelled));
        assert_eq!(other.await, Ok(3));
    });
}

#[test]
fn a_task_added_after_a_sibling_failed_is_cancelled_at_once() {
    // CPython Lib/test/test_asyncio/test_taskgroups.py TestTaskGroup.test_taskgroup_no_create_task_after_failure
    // (Rust: `create_task` raising RuntimeError becomes a task cancelled before it runs;
    // "except CancelledError" becomes the drop of the cancelled child's future)
    type LateTask = Rc<RefCell<Option<aio::Task<Result<(), String>>>>>;
    struct AddsOnCancel(Option<aio::GroupSpawner>, Rc<Cell<bool>>, LateTask);
    impl Drop for AddsOnCancel {
        fn drop(&mut self) {
            let ran = self.1.clone();
            let late = self.0.take().unwrap().spawn_fallible(async move {
                ran.set(true);
                Err::<(), _>("late task failed".to_string())
            });
            *self.2.borrow_mut() = Some(late);
        }
    }
    aio::run(async {
        aio::time::pause();
        let group = aio::TaskGroup::new();
        let (ran, late) = (Rc::new(Cell::new(false)), Rc::new(RefCell::new(None)));
        group.spawn_fallible(async {
            aio::sleep(Duration::from_millis(1)).await;
            Err::<(), _>("division by zero")
        });
        let guard = AddsOnCancel(Some(group.spawner()), ran.clone(), late.clone());
        let sibling = group.spawn(async move {
            let _g = guard;
            aio::sleep(Duration::from_secs(1)).await;
        });
        let err = group.join().await.unwrap_err();
        assert_eq!(err.errors().len(), 1, "{err}");
        assert!(
            matches!(&err.errors()[0], TaskError::Failed(m) if m.contains("division by zero")),
            "{err}"
        );
        assert_eq!(sibling.await, Err(TaskError::Cancelled));
        let late = late
            .borrow_mut()
            .take()
            .expect("the cancelled sibling added a task");
        assert_eq!(late.await, Err(TaskError::Cancelled));
        assert!(!ran.get(), "the late task never ran");
    });
}

#[test]
fn a_task_added_by_a_running_child_after_a_sibling_failed_is_cancelled_at_once() {
    // CPython Lib/test/test_asyncio/test_taskgroups.py TestTaskGroup.test_taskgroup_no_create_task_after_failure
    // (the same, from a child that still runs: shielded from the group's cancellation)
    aio::run(async {
        aio::time::pause();
        let group = aio::TaskGroup::new();
        let tg = group.spawner();
        group.spawn_fallible(async { Err::<(), _>("first failure") });
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        // `shield` runs the adder outside the group: it outlives the failure.
        let late = Rc::new(Cell::new(None));
        let l = late.clone();
        let adder = aio::shield(async move {
            aio::sleep(Duration::from_millis(5)).await;
            l.set(Some(tg.spawn(async move { r.set(true) })));
        });
        let err = group.join().await.unwrap_err();
        assert_eq!(err.errors().len(), 1, "{err}");
        adder.await.unwrap();
        let late = late.take().expect("the shielded task added one");
        assert_eq!(late.await, Err(TaskError::Cancelled));
        assert!(!ran.get(), "the late task never ran");
    });
}

#[test]
fn children_that_fail_in_the_same_turn_are_all_reported_and_the_rest_cancelled() {
    // asyncio's TaskGroup (3.11-3.13): two children that raise in the same iteration of
    // the loop are both in the ExceptionGroup (its abort runs after their steps); checked
    // against CPython 3.13, which prints `2 ['a', 'b']` for this program.
    aio::run(async {
        let group = aio::TaskGroup::new();
        group.spawn(async { panic!("a") });
        group.spawn(async { panic!("b") });
        let sleeper = group.spawn(aio::sleep(Duration::from_secs(3600)));
        let err = group.join().await.unwrap_err();
        let messages: Vec<String> = err
            .errors()
            .iter()
            .map(|e| match e {
                TaskError::Panicked(p) => p.message().to_owned(),
                other => panic!("expected panics, got {other:?}"),
            })
            .collect();
        assert_eq!(messages, ["a", "b"], "{err}");
        assert_eq!(sleeper.await, Err(TaskError::Cancelled));
        assert!(
            err.to_string().starts_with("2 tasks of the group failed"),
            "{err}"
        );
    });
}
