//! A sweep its deadline stops: it starts no secret after the deadline, says where to go on, and
//! the chain of runs visits every secret exactly once, in name order.

use super::*;

/// The world's secret (`iam-keys/ci-bot`) listed with 20 others that sort after it.
fn with_twenty_more(world: &World) -> Vec<String> {
    let names: Vec<String> = (0..20).map(|i| format!("iam-keys/db-{i:02}")).collect();
    world.secrets.state().more_listed = names
        .iter()
        .map(|name| SecretSummary {
            arn: name.clone(),
            name: name.clone(),
            rotation_enabled: true,
            rotation_lambda_arn: Some(FUNCTION.into()),
            last_rotated: None,
            next_rotation: None,
            versions: Vec::new(),
            tags: Vec::new(),
        })
        .collect();
    names
}

#[tokio::test]
async fn a_sweep_cut_short_by_its_deadline_says_where_to_go_on_and_the_chain_visits_each_secret_once()
 {
    let world = World::new().await;
    let others = with_twenty_more(&world);
    // The world's secret is looked at first (its name sorts first); its first read waits until
    // the deadline has passed, while the next seven, already started, finish.
    let gate = Gate::pause_at(2);
    let slow = Rotator::new(
        world.secrets.gated(&gate),
        world.iam.clone(),
        FakeSts::new(world.iam.clone()),
        world.rotator.config().clone(),
    );
    let deadline = Instant::now() + Duration::from_millis(100);
    let first = Options {
        deep: true,
        deadline: Some(deadline),
        ..options()
    };
    let run = tokio::spawn(async move { sweep(&slow, &first, SystemTime::now()).await });
    gate.reached().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    gate.resume();
    let first = run.await.unwrap().unwrap();

    assert_eq!(first.secrets, 8, "the eight started before the deadline");
    assert_eq!(first.left, 13);
    assert_eq!(first.next.as_deref(), Some(others[6].as_str()));

    let rest = sweep(
        &world.rotator,
        &Options {
            deep: true,
            start_after: first.next.clone(),
            ..options()
        },
        SystemTime::now(),
    )
    .await
    .unwrap();
    assert_eq!(rest.secrets, 13);
    assert_eq!((rest.next, rest.left), (None, 0));
    assert_eq!(first.secrets + rest.secrets, 1 + others.len());
}

#[tokio::test]
async fn a_sweep_with_no_time_for_any_secret_says_so_instead_of_going_on_in_place() {
    let world = World::new().await;
    with_twenty_more(&world);

    let err = sweep(
        &world.rotator,
        &Options {
            deadline: Some(Instant::now()),
            ..options()
        },
        SystemTime::now(),
    )
    .await
    .unwrap_err();

    assert!(err.to_string().contains("FunctionTimeoutSeconds"), "{err}");
}
