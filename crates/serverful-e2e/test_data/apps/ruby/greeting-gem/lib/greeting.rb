module Greeting
  def self.hello(name)
    "Hello, #{name}, from a vendored gem"
  end
end
