"""Hand-written fakes for the bot's seams, shared by every test folder (and the benches):

- ``FakeClock``: a ``bot.clock.Clock`` that moves only when told to (``advance``), with a
  monotonic reading and a ``sleep`` that records instead of waiting, for code that spaces
  calls in time;
- ``RecordingNotifier``: a ``Notifier`` that keeps the notices it was given;
- ``RecordingGateway``: the sandbox gateway, recording every message it was asked to send
  (when, from which number, to whom, what), and able to fail chosen sends;
- ``wait_until``: waits for a condition with a timeout, instead of sleeping and hoping.
"""

from tests.fakes.clock import FakeClock
from tests.fakes.gateway import RecordingGateway, Send
from tests.fakes.notifier import RecordingNotifier
from tests.fakes.waiting import wait_until

__all__ = ["FakeClock", "RecordingGateway", "RecordingNotifier", "Send", "wait_until"]
