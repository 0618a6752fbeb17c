require 'json'
require 'shout'

def handler(event:, context:)
  {
    statusCode: 200,
    body: JSON.generate(
      shouted: Shout.shout('layers'),
      shoutFile: $LOADED_FEATURES.find { |path| path.end_with?('/shout.rb') }
    )
  }
end
