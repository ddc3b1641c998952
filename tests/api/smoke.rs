use crate::both_backends;
use streamswarm_schema::Role;

both_backends!(login_then_me_then_logout, |app| async {
    let s = app.login(Role::Operator).await;
    let me: serde_json::Value = s
        .get(&app, "/api/v1/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["username"], "otto");
    assert_eq!(me["role"], "operator");
    let resp = s
        .client
        .post(app.url("/logout"))
        .form(&[("csrf_token", s.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let resp = s.get(&app, "/api/v1/me").send().await.unwrap();
    assert_eq!(resp.status(), 401);
});
