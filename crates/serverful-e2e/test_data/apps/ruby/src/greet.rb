# `greeting` is a gem installed into vendor/bundle, as `bundle install --path vendor/bundle`
# lays it out.
require 'greeting'

def handler(event:, context:)
  { statusCode: 200, body: Greeting.hello(event['pathParameters']['name']) }
end
