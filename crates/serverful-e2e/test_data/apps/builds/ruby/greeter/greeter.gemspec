Gem::Specification.new do |spec|
  spec.name = "greeter"
  spec.version = "0.1.0"
  spec.summary = "Greets by name"
  spec.authors = ["Serverful"]
  spec.license = "Apache-2.0"
  spec.files = ["lib/greeter.rb"]
end
