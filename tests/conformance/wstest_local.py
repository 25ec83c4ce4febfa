# Python 2.7: runs wstest (the Autobahn TestSuite) with every socket it
# listens on bound to 127.0.0.1. wstest's fuzzingserver binds all interfaces
# and has no option for it, so the reactor's listenTCP is wrapped before
# wstest starts. Arguments are wstest's own.
import sys

from autobahntestsuite import wstest
from twisted.internet import reactor

_listen_tcp = reactor.listenTCP


def _listen_local(port, factory, backlog=50, interface=''):
    return _listen_tcp(port, factory, backlog, interface or '127.0.0.1')


reactor.listenTCP = _listen_local
sys.argv[0] = 'wstest'
sys.exit(wstest.run())
