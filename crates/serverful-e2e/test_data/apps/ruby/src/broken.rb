# Fails while loading: the gem it needs was never installed.
require 'a_gem_nobody_installed'

def handler(event:, context:)
  { statusCode: 200, body: 'unreachable' }
end
