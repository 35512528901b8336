#!/usr/bin/python3
"""A small SMTP server for the forward-check tests (issue 14), on aiosmtpd.

Listens on 127.0.0.1 (or --host) on a port the OS picks and prints that port
on stdout (one line, then flushes), so a test can start it without a port
race. Answers RCPT like qmail-smtpd's rcpthosts check: the domain after the
last '@', case-insensitively, must be one of the DOMAIN arguments, otherwise
  553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
(notqmail qmail-smtpd.c err_nogateway). Every command it receives is appended
to --log as "VERB argument" (one line, flushed), so a test can check what was
sent, e.g. that no DATA was. Stops on SIGTERM or SIGINT.

Modes (--mode):
  accept             the default: 220 greeting, ESMTP EHLO, the rcpthosts check
  tempfail-rcpt      RCPT gets "451 ..." (a server that is not ready yet)
  tempfail-greeting  the greeting is "421 ..." and the connection is closed
  no-ehlo            EHLO gets "502 ..." (an SMTP-only server: HELO works)
--greeting-lines N makes the 220 greeting N lines long ("220-..." first).
"""

import argparse
import asyncio
import signal
import sys

from aiosmtpd.smtp import SMTP


class Recorder:
    """Appends each received command to the log file."""

    def __init__(self, path):
        self._file = open(path, "a", encoding="utf-8", errors="backslashreplace")

    def command(self, verb, arg):
        self._file.write(verb if arg is None else f"{verb} {arg}")
        self._file.write("\n")
        self._file.flush()


class Handler:
    """aiosmtpd handler hooks: the rcpthosts check and the tempfail mode."""

    def __init__(self, domains, mode):
        self._domains = {d.lower() for d in domains}
        self._mode = mode

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self._mode == "tempfail-rcpt":
            return "451 mailbox setup in progress, try again later (#4.3.0)"
        domain = address.rpartition("@")[2].lower()
        if "@" not in address or domain not in self._domains:
            return "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"
        envelope.rcpt_tos.append(address)
        return "250 ok"

    async def handle_DATA(self, server, session, envelope):
        return "554 this test server takes no messages"


class ProbeSMTP(SMTP):
    """aiosmtpd's SMTP with a command log, a longer or failing greeting and
    an optional EHLO refusal."""

    def __init__(self, handler, recorder, mode, greeting_lines, **kwargs):
        super().__init__(handler, **kwargs)
        self._recorder = recorder
        self._mode = mode
        self._greeting_lines = greeting_lines
        self._greeted = False
        # _smtp_methods maps each verb to its smtp_* method (aiosmtpd 1.4);
        # wrapping the map logs every command it recognises, DATA included.
        for verb, method in list(self._smtp_methods.items()):
            self._smtp_methods[verb] = self._logged(verb, method)

    def _logged(self, verb, method):
        async def run(arg):
            self._recorder.command(verb, arg)
            if verb == "EHLO" and self._mode == "no-ehlo":
                await self.push("502 unimplemented (#5.5.1)")
                return
            await method(arg)
        return run

    async def push(self, status):
        # The first reply of a session is the 220 greeting.
        if not self._greeted:
            self._greeted = True
            if self._mode == "tempfail-greeting":
                await super().push("421 service not available, try again later (#4.3.0)")
                self.transport.close()
                return
            for i in range(1, self._greeting_lines):
                await super().push(f"220-test greeting line {i}")
        await super().push(status)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("domains", nargs="*", help="domains whose RCPT is accepted")
    parser.add_argument("--log", required=True, help="file the received commands go to")
    parser.add_argument("--mode", default="accept",
                        choices=["accept", "tempfail-rcpt", "tempfail-greeting", "no-ehlo"])
    parser.add_argument("--greeting-lines", type=int, default=1)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    args = parser.parse_args()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    recorder = Recorder(args.log)
    handler = Handler(args.domains, args.mode)

    def factory():
        return ProbeSMTP(handler, recorder, args.mode, args.greeting_lines,
                         hostname="mx.test.invalid", loop=loop)

    server = loop.run_until_complete(loop.create_server(factory, host=args.host, port=0))
    print(server.sockets[0].getsockname()[1], flush=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    loop.run_forever()
    server.close()
    loop.run_until_complete(server.wait_closed())
    return 0


if __name__ == "__main__":
    sys.exit(main())
