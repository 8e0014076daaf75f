/* GoFly chat core: sounds, and the tab title that counts and flashes unread messages. */
(function (global) {
  "use strict";

  var G = global.GoFly;
  var store = G.store, t = G.t;

  // ---------------------------------------------------------------------------------------------
  // Sounds
  // ---------------------------------------------------------------------------------------------

  var sounds = {};
  var lastPlayed = 0;
  function playSound(url) {
    if (store.get("gofly.muted") === "1") return;
    var now = Date.now();
    if (now - lastPlayed < 800) return; // a burst of messages rings once
    lastPlayed = now;
    try {
      var audio = sounds[url] || (sounds[url] = new Audio(url));
      audio.currentTime = 0;
      var p = audio.play();
      if (p && p.catch) p.catch(function () { /* autoplay blocked until the user interacts */ });
    } catch (e) {
      /* no audio */
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Title flashing for unread messages while the tab is in the background
  // ---------------------------------------------------------------------------------------------

  function TitleFlasher(base) {
    this.base = base;
    this.count = 0;
    this.timer = null;
    this.on = false;
    var self = this;
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") self.stopFlash();
    });
  }
  TitleFlasher.prototype.set = function (count, flash) {
    this.count = count;
    if (flash && count > 0 && document.visibilityState === "hidden") this.startFlash();
    if (count <= 0) this.stopFlash();
    this._apply();
  };
  TitleFlasher.prototype._apply = function () {
    var prefix = this.count > 0 ? "(" + this.count + ") " : "";
    document.title = this.on ? "【" + t("New message") + "】" + this.base : prefix + this.base;
  };
  TitleFlasher.prototype.startFlash = function () {
    if (this.timer) return;
    var self = this;
    this.timer = setInterval(function () {
      self.on = !self.on;
      self._apply();
    }, 1000);
  };
  TitleFlasher.prototype.stopFlash = function () {
    clearInterval(this.timer);
    this.timer = null;
    this.on = false;
    this._apply();
  };

  Object.assign(G, {
    playSound: playSound,
    TitleFlasher: TitleFlasher,
  });
})(window);
