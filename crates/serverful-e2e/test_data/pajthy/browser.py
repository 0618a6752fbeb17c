# Drives examples/pajthy's single-page app in headless Chromium (Debian's `chromium` and
# `chromedriver`, through Selenium): the page comes from the site bucket's website host and calls
# the REST API on another host (CORS), follows the session over the WebSocket API, and
# must show each change pushed to it. Prints what it saw as JSON.
#
# argv: the page's URL, the REST API's URL for the test's own calls, a screenshot path.
import json, sys, urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

page_url, api_url, screenshot = sys.argv[1], sys.argv[2], sys.argv[3]


def call(method, path, body=None, secret=None):
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Pajthy-Secret"] = secret
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(api_url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


created = call("POST", "/sessions", {"choices": ["1", "2", "3", "5", "8"]})
session, secret = created["sessionId"], created["secret"]
dave = call("POST", f"/sessions/{session}/join", {"name": "dave"})

options = Options()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1000,800"]:
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
# The page re-renders on every push: read it in one script call, never through elements
# kept across a render.
wait = WebDriverWait(driver, 20, ignored_exceptions=[NoSuchElementException, StaleElementReferenceException])
READ = """
return {
  connection: document.getElementById("connection").textContent,
  status: document.getElementById("status").textContent,
  error: document.getElementById("error").textContent,
  joined: !document.getElementById("voting").hidden,
  joinForm: !document.getElementById("join-form").hidden,
  myVote: document.getElementById("my-vote").textContent,
  voters: [...document.querySelectorAll("#voters li")].map((li) => ({
    name: li.dataset.name, voted: li.dataset.voted === "true", text: li.textContent })),
  enabledChoices: [...document.querySelectorAll("button.choice")].filter((b) => !b.disabled).map((b) => b.dataset.choice),
};
"""
read = lambda: driver.execute_script(READ)
seen = {}


def until(name, check):
    try:
        wait.until(lambda _: check(read()))
    except Exception as error:
        raise SystemExit(f"the page never showed {name}: {read()}\n{error}")
    seen[name] = read()


def click(selector):
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, selector).is_enabled())
    for _ in range(20):
        try:
            driver.find_element(By.CSS_SELECTOR, selector).click()
            return
        except StaleElementReferenceException:
            continue
    raise SystemExit(f"could not click {selector}")


try:
    driver.get(f"{page_url}#/s/{session}")
    until("live", lambda page: page["connection"] == "live" and [v["name"] for v in page["voters"]] == ["dave"])
    driver.find_element(By.ID, "name").send_keys("carol")
    driver.find_element(By.ID, "join").click()
    until("joined", lambda page: page["joined"] and [v["name"] for v in page["voters"]] == ["dave", "carol"])

    call("POST", f"/sessions/{session}/start", secret=secret)
    until("open", lambda page: page["status"] == "Voting is open" and len(page["enabledChoices"]) == 5)
    click('button.choice[data-choice="5"]')
    until("carol voted", lambda page: page["myVote"] == "5" and any(v["name"] == "carol" and v["voted"] for v in page["voters"]))

    # Another voter votes through the API: the push shows it on the page.
    call("POST", f"/sessions/{session}/vote", {"voterId": dave["voterId"], "choice": "8"})
    until("dave voted", lambda page: any(v["name"] == "dave" and v["voted"] for v in page["voters"]))

    call("POST", f"/sessions/{session}/stop", secret=secret)
    until("revealed", lambda page: page["status"] == "Votes revealed" and not page["enabledChoices"])
    driver.save_screenshot(screenshot)

    call("POST", f"/sessions/{session}/kick", {"name": "carol"}, secret=secret)
    until("kicked", lambda page: page["error"] != "" and page["joinForm"])
    seen["origin"] = driver.execute_script("return location.origin")
    seen["console"] = [entry["message"] for entry in driver.get_log("browser")]
finally:
    driver.quit()
print(json.dumps(seen))
