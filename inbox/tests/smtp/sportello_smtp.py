"""aiosmtpd handlers for the sportello-inbox tests (a real SMTP server).

RejectSome: like aiosmtpd.handlers.Mailbox (writes a Maildir), but answers
550 at RCPT TO for any address starting with "rifiuta", so that a test can
see a permanent failure for the staff's mail while the admin notice is
accepted.

    PYTHONPATH=inbox/tests/smtp python3 -m aiosmtpd -n -l 127.0.0.1:PORT \
        --tlscert cert.pem --tlskey key.pem -c sportello_smtp.RejectSome MAILDIR
"""

from aiosmtpd.handlers import Mailbox


class RejectSome(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("rifiuta"):
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class SlowData(Mailbox):
    """Takes the whole message, then waits a minute before answering DATA:
    a server that hangs after the message was sent."""

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        await asyncio.sleep(60)
        return await super().handle_DATA(server, session, envelope)
