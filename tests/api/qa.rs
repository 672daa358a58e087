//! Q&A on the stages of the process: ask, answer, accept, search; who is
//! told; who may do what; nothing crosses companies.

use serde_json::{Value, json};

use crate::common::{Session, TestApp, error_code};

const ASK: &str = "mutation($s: String!, $t: String!, $b: String!) { askQuestion(input: {stage: $s, title: $t, body: $b}) { id stage stageName answerCount } }";
const ANSWER: &str = "mutation($q: ID!, $b: String!) { answerQuestion(questionId: $q, body: $b) { id } }";
const ACCEPT: &str =
    "mutation($q: ID!, $a: ID) { acceptAnswer(questionId: $q, answerId: $a) { acceptedAnswer { id author { id } } } }";
const LIST: &str = "query($s: String, $q: String, $o: Boolean) { questions(stage: $s, search: $q, open: $o) { totalCount nodes { id title answerCount author { id } answers { body author { id } } acceptedAnswer { id } } } }";

async fn inbox(app: &TestApp, s: &Session) -> Vec<(String, String)> {
    let body = app
        .ok(s, "{ notifications { nodes { kind subjectType summary } } }", json!({}))
        .await;
    body["notifications"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_owned(),
                n["summary"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn id(v: &Value) -> String {
    v.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn ask_answer_accept_and_find() {
    let app = TestApp::spawn().await;
    let t = app.tenant("qa").await;
    let other = app.tenant("qa-other").await;

    let q = app
        .ok(
            &t.rep,
            ASK,
            json!({"s": "proposal", "t": "価格の根拠はどう説明する？", "b": "競合より高いと言われたときの提案書の書き方を知りたい"}),
        )
        .await;
    assert_eq!(q["askQuestion"]["stageName"], json!("提案"));
    let qid = id(&q["askQuestion"]["id"]);
    app.ok(
        &t.rep,
        ASK,
        json!({"s": "hearing", "t": "決裁者の聞き出し方", "b": "初回訪問で聞いてよい？"}),
    )
    .await;

    let a1 = app
        .ok(
            &t.manager,
            ANSWER,
            json!({"q": qid, "b": "導入後の削減効果を金額で示す"}),
        )
        .await;
    let a1 = id(&a1["answerQuestion"]["id"]);
    let a2 = app.ok(&t.admin, ANSWER, json!({"q": qid, "b": "事例を添える"})).await;
    let a2 = id(&a2["answerQuestion"]["id"]);

    // The asker hears of both answers; the manager (who answered, so follows) of the admin's.
    let rep_inbox = inbox(&app, &t.rep).await;
    assert_eq!(rep_inbox.len(), 2, "{rep_inbox:?}");
    assert!(
        rep_inbox.iter().all(|(k, s)| k == "ANSWER" && s.contains("価格の根拠")),
        "{rep_inbox:?}"
    );
    let mgr = inbox(&app, &t.manager).await;
    assert_eq!(mgr.len(), 1, "{mgr:?}");
    assert!(mgr[0].1.contains("事例を添える"), "{mgr:?}");

    // Only the asker (or an admin) accepts; the accepted answer's author hears of it.
    let r = app
        .gql(Some(&t.manager.token), ACCEPT, json!({"q": qid, "a": a1}))
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN");
    let r = app.ok(&t.rep, ACCEPT, json!({"q": qid, "a": a1})).await;
    assert_eq!(r["acceptAnswer"]["acceptedAnswer"]["id"], json!(a1));
    let mgr = inbox(&app, &t.manager).await;
    assert!(mgr.iter().any(|(_, s)| s.contains("was accepted")), "{mgr:?}");
    assert!(!inbox(&app, &t.admin).await.iter().any(|(_, s)| s.contains("accepted")));

    // Per stage, by words, open ones.
    let list = app.ok(&t.manager, LIST, json!({"s": "proposal"})).await;
    assert_eq!(list["questions"]["totalCount"], json!(1));
    let node = &list["questions"]["nodes"][0];
    assert_eq!(node["answerCount"], json!(2));
    let bodies: Vec<&str> = node["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["導入後の削減効果を金額で示す", "事例を添える"]);
    for (search, n) in [("提案書", 1), ("決裁者", 1), ("初回訪問", 1), ("見積", 0), ("%", 0)] {
        let r = app.ok(&t.rep, LIST, json!({"q": search})).await;
        assert_eq!(r["questions"]["totalCount"], json!(n), "search {search}");
    }
    let r = app.ok(&t.rep, LIST, json!({"o": true})).await;
    assert_eq!(r["questions"]["totalCount"], json!(1), "the answered one is not open");

    // Deleting the accepted answer unmarks it.
    let r = app
        .gql(
            Some(&t.rep.token),
            "mutation($a: ID!) { deleteAnswer(id: $a) }",
            json!({"a": a2}),
        )
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN", "not the rep's answer");
    app.ok(
        &t.manager,
        "mutation($a: ID!) { deleteAnswer(id: $a) }",
        json!({"a": a1}),
    )
    .await;
    let one = app
        .ok(
            &t.rep,
            "query($q: ID!) { question(id: $q) { answerCount acceptedAnswer { id } } }",
            json!({"q": qid}),
        )
        .await;
    assert_eq!(one["question"], json!({"answerCount": 1, "acceptedAnswer": null}));

    // Bad input.
    let r = app
        .gql(Some(&t.rep.token), ASK, json!({"s": "golf", "t": "x", "b": "y"}))
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("proposal"), "{r}");
    let r = app
        .gql(Some(&t.rep.token), ASK, json!({"s": "proposal", "t": " ", "b": "y"}))
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");

    // Another company: nothing to see, nothing to answer.
    let theirs = app.ok(&other.rep, LIST, json!({})).await;
    assert_eq!(theirs["questions"]["totalCount"], json!(0));
    let r = app
        .gql(Some(&other.rep.token), ANSWER, json!({"q": qid, "b": "hi"}))
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND");
}
