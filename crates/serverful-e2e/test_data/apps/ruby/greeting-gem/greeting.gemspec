Gem::Specification.new do |spec|
  spec.name = 'greeting'
  spec.version = '1.0.0'
  spec.summary = 'A gem for the Ruby end-to-end test'
  spec.authors = ['Serverful']
  spec.license = 'MIT'
  spec.files = ['lib/greeting.rb']
end
