# Answers GET /ruby/{name} through the Lambda Runtime API with Ruby's standard library
# and the vendored greeter gem.
require "json"
require "net/http"
require "greeter"

host, port = ENV.fetch("AWS_LAMBDA_RUNTIME_API").split(":")
runtime = Net::HTTP.new(host, Integer(port))
# /next is a long poll: it waits as long as there is no request.
runtime.read_timeout = nil

loop do
  next_event = runtime.get("/2018-06-01/runtime/invocation/next")
  request_id = next_event["Lambda-Runtime-Aws-Request-Id"]
  event = JSON.parse(next_event.body)
  name = (event["pathParameters"] || {}).fetch("name", "world")
  body = {
    message: Greeter.greet(name),
    gem_dir: Gem.loaded_specs["greeter"].full_gem_path,
  }
  result = {
    statusCode: 200,
    headers: { "content-type" => "application/json" },
    body: JSON.generate(body),
  }
  runtime.post(
    "/2018-06-01/runtime/invocation/#{request_id}/response",
    JSON.generate(result),
    "Content-Type" => "application/json",
  )
end
