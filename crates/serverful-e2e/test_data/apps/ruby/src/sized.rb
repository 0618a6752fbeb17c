# Answers with as many bytes as asked for: past Lambda's 6 MB the Runtime API refuses the
# answer and closes the connection, and the next request must still be served.
def answer(event:, context:)
  'x' * Integer(event['queryStringParameters']['bytes'])
end
