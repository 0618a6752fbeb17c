# A gem of our own, so that the function has a dependency to vendor.
module Greeter
  def self.greet(name)
    "Hello, #{name}!"
  end
end
