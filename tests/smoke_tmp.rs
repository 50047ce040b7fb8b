use concur::*;
#[test]
fn smoke() {
    let pool = ThreadPoolExecutor::new(4);
    let hs: Vec<_> = (0..1000u64).map(|i| pool.submit(move || i * 2)).collect();
    let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(s, 999 * 1000);
    let v: Vec<_> = pool.map(|x: u64| x + 1, 0..100).map(Result::unwrap).collect();
    assert_eq!(v, (1..101).collect::<Vec<_>>());
    let one = ThreadPoolExecutor::new(1);
    let one = std::sync::Arc::new(one);
    let o2 = one.clone();
    let r = one.submit(move || { let h = o2.submit(|| 5); h.join().unwrap() + 1 }).join();
    assert_eq!(r, Ok(6));
}
