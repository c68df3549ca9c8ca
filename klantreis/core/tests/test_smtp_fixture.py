from django.core.mail import send_mail


def test_mail_reaches_the_local_smtp_server(smtp_server):
    sent = send_mail("Hallo", "Tekst", "from@example.org", ["to@example.org"])

    assert sent == 1
    assert [m["Subject"] for m in smtp_server.messages] == ["Hallo"]
    assert smtp_server.messages[0]["To"] == "to@example.org"
